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

void sw_g711_init(void) {
    for (int c = 0; c < 256; c++) {
        sw_ulaw_table[c] = ulaw_expand((uint8_t)c);
        sw_alaw_table[c] = alaw_expand((uint8_t)c);
    }
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
SW_CLONES void sw_ulaw_encode(const uint8_t *in, uint8_t *out, size_t n) {
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
SW_CLONES void sw_alaw_encode(const uint8_t *in, uint8_t *out, size_t n) {
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

void sw_g711_decode(const int16_t *table, const uint8_t *in, uint8_t *out, size_t n) {
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
