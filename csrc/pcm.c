/* PCM sample kernels; see pcm.h. Loops are written so the compiler vectorises them
 * (no branches, no calls other than memcpy of one sample). */
#include "pcm.h"

SW_CLONES void sw_i16_to_f32(const uint8_t *in, uint8_t *out, size_t n) {
    const float scale = 1.0f / 32768.0f;
    for (size_t i = 0; i < n; i++) {
        float f = (float)sw_load_le16s(in + 2 * i) * scale;
        memcpy(out + 4 * i, &f, sizeof f);
    }
}

SW_CLONES SW_NO_TRAP void sw_f32_to_i16(const uint8_t *in, uint8_t *out, size_t n) {
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
