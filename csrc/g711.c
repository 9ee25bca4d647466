/* G.711 mu-law and A-law; see g711.h. */
#include "g711.h"

#include <string.h>

#include "pcm.h"

int16_t sw_ulaw_table[256];
int16_t sw_alaw_table[256];

/* G.711 mu-law expansion: invert all bits; magnitude = ((2 * mantissa + 33) << segment) - 33
 * in 14-bit units, here scaled by 4 to 16 bits (bias 0x84 = 4 * 33). */
static int16_t ulaw_expand(uint8_t code) {
    unsigned u = (unsigned)(~code) & 0xFFu;
    int t = (int)((((u & 0x0Fu) << 3) + 0x84u) << ((u & 0x70u) >> 4));
    return (int16_t)((u & 0x80u) ? (0x84 - t) : (t - 0x84));
}

/* G.711 A-law expansion: invert the even bits; segment 0 is linear, segment s >= 1 is
 * (2 * mantissa + 33) << (s - 1) in 13-bit units, here scaled by 8 to 16 bits. */
static int16_t alaw_expand(uint8_t code) {
    unsigned a = (unsigned)code ^ 0x55u;
    unsigned seg = (a & 0x70u) >> 4;
    int t = (int)((a & 0x0Fu) << 4);
    t = seg == 0 ? t + 8 : (t + 0x108) << (seg - 1);
    return (int16_t)((a & 0x80u) ? t : -t);
}

#if SW_AVX512
#include <immintrin.h>

/* Word tables for vpermw, which indexes 32 words by the low 5 bits of each lane.
 *
 * Encoding needs the segment of a magnitude m, i.e. its bit length, as a shift count. Two
 * lookups cover it: one on the high bits (m >> hi_shift, 0..31), one on the next ones
 * (m >> lo_shift, low 5 bits), combined by max: the high table wins whenever the high
 * bits are non-zero, and the low one is never larger then (checked for every m by the
 * bit-exactness tests over all int16 inputs).
 * Decoding computes ((base[c & 15] + add[c >> 4]) << shift[c >> 4]) - bias, negated for
 * codes with bit 7 clear. */
typedef struct {
    int16_t hi[32], lo[32];
} enc_tables;
typedef struct {
    int16_t base[32], add[32], shift[32], bias;
} dec_tables;
static enc_tables ulaw_enc, alaw_enc;
static dec_tables ulaw_dec, alaw_dec;

static int16_t floor_log2(int v) { /* v >= 1 */
    int16_t r = 0;
    while (v >>= 1) r++;
    return r;
}

static void build_simd_tables(void) {
    for (int i = 0; i < 32; i++) {
        int16_t fl = i ? floor_log2(i) : 0;
        /* mu-law: m = |s >> 2| + 33 in 33..8191, shift = segment + 1 = bit length - 5;
         * hi index m >> 8, lo index m >> 5 */
        ulaw_enc.hi[i] = (int16_t)(i ? 4 + fl : 0);
        ulaw_enc.lo[i] = (int16_t)(1 + fl);
        /* A-law: m in 0..4095, shift = max(bit length - 5, 1); hi index m >> 7, lo m >> 2 */
        alaw_enc.hi[i] = (int16_t)(i ? 3 + fl : 1);
        alaw_enc.lo[i] = (int16_t)(fl - 2 > 1 ? fl - 2 : 1);
        /* decoding, with the bit inversions of ulaw_expand / alaw_expand folded in */
        int seg_u = 7 - (i & 7), seg_a = (i ^ 5) & 7;
        ulaw_dec.base[i] = (int16_t)(((~i & 15) << 3) + 0x84);
        ulaw_dec.add[i] = 0;
        ulaw_dec.shift[i] = (int16_t)seg_u;
        alaw_dec.base[i] = (int16_t)(((i ^ 5) & 15) << 4);
        alaw_dec.add[i] = (int16_t)(seg_a ? 0x108 : 8);
        alaw_dec.shift[i] = (int16_t)(seg_a ? seg_a - 1 : 0);
    }
    ulaw_dec.bias = 0x84;
    alaw_dec.bias = 0;
}

#define LOAD_TABLE(t) _mm512_loadu_si512((const void *)(t))

/* 32 int16 samples -> 32 mu-law codes. */
SW_TARGET_AVX512 static inline __m256i ulaw_enc_x32(__m512i x, __m512i hi, __m512i lo) {
    __m512i v = _mm512_srai_epi16(x, 2);
    __m512i m = _mm512_add_epi16(_mm512_abs_epi16(v), _mm512_set1_epi16(33));
    m = _mm512_min_epi16(m, _mm512_set1_epi16(8191));
    __m512i sh = _mm512_max_epi16(_mm512_permutexvar_epi16(_mm512_srli_epi16(m, 8), hi),
                                  _mm512_permutexvar_epi16(_mm512_srli_epi16(m, 5), lo));
    /* m >> sh is 16 + mantissa, so code7 = (sh << 4) + (m >> sh) - 32 and
     * ~code7 = 31 - (m >> sh) - (sh << 4) (low 8 bits) */
    __m512i r = _mm512_sub_epi16(_mm512_set1_epi16(31), _mm512_srlv_epi16(m, sh));
    r = _mm512_sub_epi16(r, _mm512_slli_epi16(sh, 4));
    /* r ^ (sign & 0x80): negative samples keep bit 7 clear */
    r = _mm512_ternarylogic_epi32(r, _mm512_srai_epi16(x, 15), _mm512_set1_epi16(0x80), 0x78);
    return _mm512_cvtepi16_epi8(r);
}

/* 32 int16 samples -> 32 A-law codes. */
SW_TARGET_AVX512 static inline __m256i alaw_enc_x32(__m512i x, __m512i hi, __m512i lo) {
    __m512i neg = _mm512_srai_epi16(x, 15);
    __m512i m = _mm512_xor_si512(_mm512_srai_epi16(x, 3), neg);
    __m512i sh = _mm512_max_epi16(_mm512_permutexvar_epi16(_mm512_srli_epi16(m, 7), hi),
                                  _mm512_permutexvar_epi16(_mm512_srli_epi16(m, 2), lo));
    /* segment 0 (m < 32): m >> 1; segment s >= 1: (s << 4) + (m >> s) - 16; both are
     * (sh << 4) + (m >> sh) - 16 with sh = max(s, 1) */
    __m512i code = _mm512_add_epi16(_mm512_slli_epi16(sh, 4), _mm512_srlv_epi16(m, sh));
    code = _mm512_sub_epi16(code, _mm512_set1_epi16(16));
    code = _mm512_ternarylogic_epi32(code, neg, _mm512_set1_epi16(0x80), 0x78);
    return _mm512_cvtepi16_epi8(_mm512_xor_si512(code, _mm512_set1_epi16(0xD5)));
}

#define ENC_LOOP(fn, t)                                                                 \
    do {                                                                                \
        const __m512i hi = LOAD_TABLE((t).hi), lo = LOAD_TABLE((t).lo);                 \
        size_t i = 0;                                                                   \
        for (; i + 32 <= n; i += 32) {                                                  \
            __m512i x = _mm512_loadu_si512((const void *)(in + 2 * i));                \
            _mm256_storeu_si256((__m256i *)(out + i), fn(x, hi, lo));                   \
        }                                                                               \
        if (i < n) {                                                                    \
            __mmask32 k = (__mmask32)((1u << (n - i)) - 1u);                            \
            __m512i x = _mm512_maskz_loadu_epi16(k, in + 2 * i);                        \
            _mm256_mask_storeu_epi8(out + i, k, fn(x, hi, lo));                         \
        }                                                                               \
    } while (0)

SW_TARGET_AVX512 static void ulaw_encode_avx512(const uint8_t *in, uint8_t *out, size_t n) {
    ENC_LOOP(ulaw_enc_x32, ulaw_enc);
}

SW_TARGET_AVX512 static void alaw_encode_avx512(const uint8_t *in, uint8_t *out, size_t n) {
    ENC_LOOP(alaw_enc_x32, alaw_enc);
}

typedef struct {
    __m512i base, add, shift, bias;
} dec_regs;

SW_TARGET_AVX512 static inline dec_regs load_dec(const dec_tables *t) {
    dec_regs r = {LOAD_TABLE(t->base), LOAD_TABLE(t->add), LOAD_TABLE(t->shift),
                  _mm512_set1_epi16(t->bias)};
    return r;
}

/* 32 codes (zero-extended to words) -> 32 int16 samples. */
SW_TARGET_AVX512 static inline __m512i g711_dec_x32(__m512i c, const dec_regs *t) {
    __m512i hi = _mm512_srli_epi16(c, 4);
    __m512i v = _mm512_add_epi16(_mm512_permutexvar_epi16(c, t->base),
                                 _mm512_permutexvar_epi16(hi, t->add));
    v = _mm512_sllv_epi16(v, _mm512_permutexvar_epi16(hi, t->shift));
    v = _mm512_sub_epi16(v, t->bias);
    __mmask32 neg = _mm512_testn_epi16_mask(c, _mm512_set1_epi16(0x80));
    return _mm512_mask_sub_epi16(v, neg, _mm512_setzero_si512(), v);
}

SW_TARGET_AVX512 static inline __m512i load_codes(const uint8_t *p, size_t r) {
    if (r >= 32) return _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)p));
    return _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8((__mmask32)((1u << r) - 1u), p));
}

SW_TARGET_AVX512 static void g711_decode_avx512(const dec_tables *tab, const uint8_t *in,
                                                uint8_t *out, size_t n) {
    const dec_regs t = load_dec(tab);
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        _mm512_storeu_si512((void *)(out + 2 * i), g711_dec_x32(load_codes(in + i, 32), &t));
    if (i < n) {
        __mmask32 k = (__mmask32)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_epi16(out + 2 * i, k, g711_dec_x32(load_codes(in + i, n - i), &t));
    }
}

/* Two channels of n codes -> n interleaved stereo int16 frames, in one pass. */
SW_TARGET_AVX512 static void g711_decode_stereo_avx512(const dec_tables *tab, const uint8_t *a,
                                                       const uint8_t *b, size_t n, uint8_t *out) {
    const dec_regs t = load_dec(tab);
    int16_t lo_idx[32], hi_idx[32];
    for (int j = 0; j < 16; j++) {
        lo_idx[2 * j] = (int16_t)j;
        lo_idx[2 * j + 1] = (int16_t)(32 + j);
        hi_idx[2 * j] = (int16_t)(16 + j);
        hi_idx[2 * j + 1] = (int16_t)(48 + j);
    }
    const __m512i ilo = LOAD_TABLE(lo_idx), ihi = LOAD_TABLE(hi_idx);
    for (size_t i = 0; i < n; i += 32) {
        size_t r = n - i;
        __m512i x = g711_dec_x32(load_codes(a + i, r), &t);
        __m512i y = g711_dec_x32(load_codes(b + i, r), &t);
        __m512i lo = _mm512_permutex2var_epi16(x, ilo, y);
        __m512i hi = _mm512_permutex2var_epi16(x, ihi, y);
        uint8_t *dst = out + 4 * i;
        if (r >= 32) {
            _mm512_storeu_si512((void *)dst, lo);
            _mm512_storeu_si512((void *)(dst + 64), hi);
        } else { /* 2r words remain */
            uint64_t words = ((uint64_t)1 << (2 * r)) - 1u;
            _mm512_mask_storeu_epi16(dst, (__mmask32)words, lo);
            _mm512_mask_storeu_epi16(dst + 64, (__mmask32)(words >> 32), hi);
        }
    }
}
#endif /* SW_AVX512 */

void sw_g711_init(void) {
    for (int c = 0; c < 256; c++) {
        sw_ulaw_table[c] = ulaw_expand((uint8_t)c);
        sw_alaw_table[c] = alaw_expand((uint8_t)c);
    }
#if SW_AVX512
    build_simd_tables();
#endif
}

static inline uint32_t float_bits(float f) {
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

/* mu-law: 14-bit sample (s >> 2), magnitude clipped to 8159, biased by 33 into 33..8192
 * (8192 is clamped to 8191: both give segment 7, mantissa 15). For m in [2^k, 2^(k+1))
 * the segment is k - 5 and the mantissa the 4 bits below the leading one, i.e. the
 * float32 exponent and top mantissa bits: code7 = (bits >> 19) - ((127 + 5) << 4). */
SW_CLONES static void ulaw_encode_auto(const uint8_t *in, uint8_t *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int32_t v = (int32_t)sw_load_le16s(in + 2 * i) >> 2;
        int32_t neg = v >> 31; /* -1 or 0 */
        int32_t mag = (v ^ neg) - neg;
        mag += 33;
        mag = mag > 8191 ? 8191 : mag;
        int32_t code = (int32_t)(float_bits((float)mag) >> 19) - ((127 + 5) << 4);
        /* positive: invert all 8 bits (xor 0xFF); negative: invert the low 7 (xor 0x7F) */
        out[i] = (uint8_t)(code ^ (0xFF ^ (neg & 0x80)));
    }
}

/* A-law: 13-bit sample (s >> 3); magnitude v for v >= 0, -v - 1 (= ~v) for v < 0, in
 * 0..4095. Below 32 the code is mag >> 1 (segment 0); above, as for mu-law with
 * code7 = (bits >> 19) - ((127 + 4) << 4). Positive codes are xored with 0xD5, negative
 * with 0x55. */
SW_CLONES static void alaw_encode_auto(const uint8_t *in, uint8_t *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int32_t v = (int32_t)sw_load_le16s(in + 2 * i) >> 3;
        int32_t neg = v >> 31;
        int32_t mag = v ^ neg;
        int32_t hi = (int32_t)(float_bits((float)mag) >> 19) - ((127 + 4) << 4);
        int32_t low = (mag - 32) >> 31; /* -1 when mag < 32 (segment 0), else 0 */
        int32_t code = ((mag >> 1) & low) | (hi & ~low);
        out[i] = (uint8_t)(code ^ (0xD5 ^ (neg & 0x80)));
    }
}

void sw_ulaw_encode(const uint8_t *in, uint8_t *out, size_t n) {
#if SW_AVX512
    if (sw_use_avx512) {
        ulaw_encode_avx512(in, out, n);
        return;
    }
#endif
    ulaw_encode_auto(in, out, n);
}

void sw_alaw_encode(const uint8_t *in, uint8_t *out, size_t n) {
#if SW_AVX512
    if (sw_use_avx512) {
        alaw_encode_avx512(in, out, n);
        return;
    }
#endif
    alaw_encode_auto(in, out, n);
}

#if SW_AVX512
/* The SIMD tables of a decode table (sw_ulaw_table or sw_alaw_table). */
static const dec_tables *dec_of(const int16_t *table) {
    return table == sw_ulaw_table ? &ulaw_dec : &alaw_dec;
}
#endif

void sw_g711_decode(const int16_t *table, const uint8_t *in, uint8_t *out, size_t n) {
#if SW_AVX512
    if (sw_use_avx512) {
        g711_decode_avx512(dec_of(table), in, out, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++) sw_store_le16s(out + 2 * i, table[in[i]]);
}

void sw_ulaw_decode(const uint8_t *in, uint8_t *out, size_t n) {
    sw_g711_decode(sw_ulaw_table, in, out, n);
}

void sw_alaw_decode(const uint8_t *in, uint8_t *out, size_t n) {
    sw_g711_decode(sw_alaw_table, in, out, n);
}

void sw_g711_decode_interleave(const int16_t *table, const uint8_t *const *chans, size_t nch,
                               size_t n, uint8_t *out) {
#if SW_AVX512
    if (nch == 2 && sw_use_avx512) {
        g711_decode_stereo_avx512(dec_of(table), chans[0], chans[1], n, out);
        return;
    }
#endif
    if (nch == 2) {
        const uint8_t *a = chans[0], *b = chans[1];
        for (size_t i = 0; i < n; i++) {
            sw_store_le16s(out + 4 * i, table[a[i]]);
            sw_store_le16s(out + 4 * i + 2, table[b[i]]);
        }
        return;
    }
    const size_t stride = 2 * nch;
    for (size_t c = 0; c < nch; c++) {
        const uint8_t *src = chans[c];
        uint8_t *dst = out + 2 * c;
        for (size_t i = 0; i < n; i++) sw_store_le16s(dst + i * stride, table[src[i]]);
    }
}
