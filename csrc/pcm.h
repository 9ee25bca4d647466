/* PCM sample kernels: int16 <-> float32, interleave / deinterleave, downmix.
 *
 * int16 PCM is little-endian (Amazon Transcribe's "pcm", protocol.md §3.3), float32 is
 * native-endian IEEE 754 with full scale +-1.0. Buffers may be unaligned: every sample goes
 * through memcpy, which compilers turn into plain (vectorised) loads and stores. Lengths are
 * counts of samples (or frames where stated) and are validated by the caller.
 */
#ifndef SCRIBEWIRE_PCM_H
#define SCRIBEWIRE_PCM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "endian.h"

/* Hot loops are compiled twice on x86-64 Linux with GCC/clang, for AVX2 and the baseline,
 * and the loader picks one at run time by the CPU (an ifunc; no build-host probing). */
#if defined(__x86_64__) && defined(__linux__) && defined(__GLIBC__) && \
    (defined(__GNUC__) || defined(__clang__)) && !defined(SW_NO_CLONES)
#define SW_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SW_CLONES
#endif

/* Hand-written AVX-512 (F, BW, VL) kernels on x86-64 with GCC/clang, compiled for that target
 * only (no -march) and chosen at run time when the CPU and OS support it (sw_pcm_init).
 * They keep 16-bit lanes and use word permutes as small tables, where the compiler's own
 * vectorisation of the scalar loops widens to 32-bit lanes.
 *
 * Upper vector state: these kernels (and the AVX2 clones above) call nothing after their
 * vector part and return straight after it, so the compiler ends every path with vzeroupper
 * before the ret; an explicit _mm256_zeroupper() there only adds a second one (GCC 12). A
 * kernel that goes on to call scalar code must clear the state itself first, as
 * crc_vpclmul_update does: GCC 12 omits vzeroupper before a call to a local function it knows
 * spares the vector registers. tests/test_vzeroupper.py checks the built extensions. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(SW_NO_CLONES)
#define SW_AVX512 1
#define SW_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))
#else
#define SW_AVX512 0
#endif

/* Non-zero while the AVX-512 kernels are in use (set by sw_pcm_init, see sw_pcm_set_simd). */
extern int sw_use_avx512;

/* Detects the CPU's vector support; call once before any kernel (idempotent). */
void sw_pcm_init(void);

/* Enables (1) or disables (0) the AVX-512 kernels, for tests of both paths; they stay
 * off when the CPU lacks them. Returns the previous setting. */
int sw_pcm_set_simd(int enable);

/* The float clamps compile to min/max/blend (vectorised) only when comparisons may not
 * trap; we never read the FP exception flags. GCC only (clang vectorises them anyway). */
#if defined(__GNUC__) && !defined(__clang__)
#define SW_NO_TRAP __attribute__((optimize("no-trapping-math")))
#else
#define SW_NO_TRAP
#endif

static inline int16_t sw_load_le16s(const uint8_t *p) {
    uint16_t v;
    memcpy(&v, p, sizeof v);
#if !SW_LITTLE_ENDIAN
    v = (uint16_t)SW_BSWAP16(v);
#endif
    return (int16_t)v;
}

static inline void sw_store_le16s(uint8_t *p, int16_t s) {
    uint16_t v = (uint16_t)s;
#if !SW_LITTLE_ENDIAN
    v = (uint16_t)SW_BSWAP16(v);
#endif
    memcpy(p, &v, sizeof v);
}

/* n int16 LE samples -> n float32: x / 32768 (exact). */
void sw_i16_to_f32(const uint8_t *in, uint8_t *out, size_t n);

/* n float32 -> n int16 LE: x * 32768, NaN -> 0, clipped to [-32768, 32767], rounded half
 * to even. */
void sw_f32_to_i16(const uint8_t *in, uint8_t *out, size_t n);

/* nch channel buffers of n samples of width bytes (1, 2 or 4) -> n interleaved frames. */
void sw_interleave(const uint8_t *const *chans, size_t nch, size_t n, size_t width, uint8_t *out);

/* n interleaved frames of nch samples of width bytes -> nch buffers of n samples. */
void sw_deinterleave(const uint8_t *in, size_t nch, size_t n, size_t width, uint8_t *const *outs);

/* n interleaved int16 LE frames of nch channels -> n mono samples: floor(sum / nch). */
void sw_downmix_i16(const uint8_t *in, size_t nch, size_t n, uint8_t *out);

/* Sum of the squares of n int16 LE samples (exact: at most 2^30 per sample, so 2^33
 * samples before the 64-bit sum could wrap). */
uint64_t sw_sum_squares_i16(const uint8_t *in, size_t n);

#endif /* SCRIBEWIRE_PCM_H */
