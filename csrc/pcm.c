/* PCM sample kernels; see pcm.h. Loops are written so the compiler vectorises them
 * (no branches, no calls other than memcpy of one sample). */
#include "pcm.h"

#if SW_AVX512
#include <immintrin.h>
#endif

int sw_use_avx512 = 0;
static int cpu_avx512 = 0;

void sw_pcm_init(void) {
#if SW_AVX512
    __builtin_cpu_init();
    /* libgcc and compiler-rt also check that the OS saves the zmm and mask registers */
    cpu_avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vl");
#endif
    sw_use_avx512 = cpu_avx512;
}

int sw_pcm_set_simd(int enable) {
    int was = sw_use_avx512;
    sw_use_avx512 = enable && cpu_avx512;
    return was;
}

#if SW_AVX512
/* Masks of the first r (< 16 or < 32) lanes, for the loop tails. */
#define SW_TAIL16(r) ((__mmask16)((1u << (r)) - 1u))

SW_TARGET_AVX512 static void i16_to_f32_avx512(const uint8_t *in, uint8_t *out, size_t n) {
    const __m512 scale = _mm512_set1_ps(1.0f / 32768.0f);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i x = _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)(in + 2 * i)));
        _mm512_storeu_ps(out + 4 * i, _mm512_mul_ps(_mm512_cvtepi32_ps(x), scale));
    }
    if (i < n) {
        __mmask16 k = SW_TAIL16(n - i);
        __m512i x = _mm512_cvtepi16_epi32(_mm256_maskz_loadu_epi16(k, in + 2 * i));
        _mm512_mask_storeu_ps(out + 4 * i, k, _mm512_mul_ps(_mm512_cvtepi32_ps(x), scale));
    }
}

/* NaN lanes are zeroed by the multiply's mask; the upper clip is a min, the lower one the
 * signed saturation of vpmovsdw (conversion of anything below -2^31 gives INT32_MIN). The
 * conversion rounds to nearest, ties to even, whatever MXCSR says, and raises no flags. */
SW_TARGET_AVX512 static inline __m256i f32_to_i16_x16(__m512 v) {
    __mmask16 ord = _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q);
    v = _mm512_maskz_mul_ps(ord, v, _mm512_set1_ps(32768.0f));
    v = _mm512_min_ps(v, _mm512_set1_ps(32767.0f));
    __m512i x = _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm512_cvtsepi32_epi16(x);
}

SW_TARGET_AVX512 static void f32_to_i16_avx512(const uint8_t *in, uint8_t *out, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(out + 2 * i), f32_to_i16_x16(_mm512_loadu_ps(in + 4 * i)));
    if (i < n) {
        __mmask16 k = SW_TAIL16(n - i);
        _mm256_mask_storeu_epi16(out + 2 * i, k, f32_to_i16_x16(_mm512_maskz_loadu_ps(k, in + 4 * i)));
    }
}
#endif

SW_CLONES static void i16_to_f32_auto(const uint8_t *in, uint8_t *out, size_t n) {
    const float scale = 1.0f / 32768.0f;
    for (size_t i = 0; i < n; i++) {
        float f = (float)sw_load_le16s(in + 2 * i) * scale;
        memcpy(out + 4 * i, &f, sizeof f);
    }
}

void sw_i16_to_f32(const uint8_t *in, uint8_t *out, size_t n) {
#if SW_AVX512
    if (sw_use_avx512) {
        i16_to_f32_avx512(in, out, n);
        return;
    }
#endif
    i16_to_f32_auto(in, out, n);
}

SW_CLONES SW_NO_TRAP static void f32_to_i16_auto(const uint8_t *in, uint8_t *out, size_t n) {
    /* Adding then subtracting 1.5 * 2^23 rounds a float32 of magnitude < 2^22 to an
     * integer in the current rounding mode (nearest, ties to even). */
    const float magic = 12582912.0f;
    for (size_t i = 0; i < n; i++) {
        float v;
        memcpy(&v, in + 4 * i, sizeof v);
        v *= 32768.0f;
        v = (v == v) ? v : 0.0f;
        v = (v < -32768.0f) ? -32768.0f : v;
        v = (v > 32767.0f) ? 32767.0f : v;
        v = (v + magic) - magic;
        sw_store_le16s(out + 2 * i, (int16_t)(int32_t)v);
    }
}

void sw_f32_to_i16(const uint8_t *in, uint8_t *out, size_t n) {
#if SW_AVX512
    if (sw_use_avx512) {
        f32_to_i16_avx512(in, out, n);
        return;
    }
#endif
    f32_to_i16_auto(in, out, n);
}

SW_CLONES static void interleave2_16(const uint8_t *a, const uint8_t *b, size_t n, uint8_t *out) {
    for (size_t i = 0; i < n; i++) {
        uint16_t x, y;
        memcpy(&x, a + 2 * i, 2);
        memcpy(&y, b + 2 * i, 2);
        memcpy(out + 4 * i, &x, 2);
        memcpy(out + 4 * i + 2, &y, 2);
    }
}

SW_CLONES static void deinterleave2_16(const uint8_t *in, size_t n, uint8_t *a, uint8_t *b) {
    for (size_t i = 0; i < n; i++) {
        uint16_t x, y;
        memcpy(&x, in + 4 * i, 2);
        memcpy(&y, in + 4 * i + 2, 2);
        memcpy(a + 2 * i, &x, 2);
        memcpy(b + 2 * i, &y, 2);
    }
}

void sw_interleave(const uint8_t *const *chans, size_t nch, size_t n, size_t width, uint8_t *out) {
    if (nch == 1) {
        memcpy(out, chans[0], n * width);
        return;
    }
    if (nch == 2 && width == 2) {
        interleave2_16(chans[0], chans[1], n, out);
        return;
    }
    const size_t stride = nch * width;
    for (size_t c = 0; c < nch; c++) {
        const uint8_t *src = chans[c];
        uint8_t *dst = out + c * width;
        switch (width) {
        case 1:
            for (size_t i = 0; i < n; i++) dst[i * stride] = src[i];
            break;
        case 2:
            for (size_t i = 0; i < n; i++) memcpy(dst + i * stride, src + 2 * i, 2);
            break;
        default:
            for (size_t i = 0; i < n; i++) memcpy(dst + i * stride, src + 4 * i, 4);
            break;
        }
    }
}

void sw_deinterleave(const uint8_t *in, size_t nch, size_t n, size_t width, uint8_t *const *outs) {
    if (nch == 1) {
        memcpy(outs[0], in, n * width);
        return;
    }
    if (nch == 2 && width == 2) {
        deinterleave2_16(in, n, outs[0], outs[1]);
        return;
    }
    const size_t stride = nch * width;
    for (size_t c = 0; c < nch; c++) {
        const uint8_t *src = in + c * width;
        uint8_t *dst = outs[c];
        switch (width) {
        case 1:
            for (size_t i = 0; i < n; i++) dst[i] = src[i * stride];
            break;
        case 2:
            for (size_t i = 0; i < n; i++) memcpy(dst + 2 * i, src + i * stride, 2);
            break;
        default:
            for (size_t i = 0; i < n; i++) memcpy(dst + 4 * i, src + i * stride, 4);
            break;
        }
    }
}

SW_CLONES void sw_downmix_i16(const uint8_t *in, size_t nch, size_t n, uint8_t *out) {
    if (nch == 2) {
        for (size_t i = 0; i < n; i++) {
            int32_t s = (int32_t)sw_load_le16s(in + 4 * i) + (int32_t)sw_load_le16s(in + 4 * i + 2);
            sw_store_le16s(out + 2 * i, (int16_t)(s >> 1)); /* arithmetic shift: floor */
        }
        return;
    }
    /* floor division of a possibly negative sum, via a non-negative offset */
    const int64_t bias = (int64_t)32768 * (int64_t)nch;
    for (size_t i = 0; i < n; i++) {
        int64_t s = bias;
        const uint8_t *f = in + 2 * nch * i;
        for (size_t c = 0; c < nch; c++) s += sw_load_le16s(f + 2 * c);
        sw_store_le16s(out + 2 * i, (int16_t)(s / (int64_t)nch - 32768));
    }
}

SW_CLONES uint64_t sw_sum_squares_i16(const uint8_t *in, size_t n) {
    uint64_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t x = sw_load_le16s(in + 2 * i);
        acc += (uint64_t)(uint32_t)(x * x);
    }
    return acc;
}
