/* G.711 mu-law and A-law (ITU-T G.711), bit-exact with CPython's audioop.
 *
 * Portable path: decoding reads a 256-entry table per law, built by sw_g711_init() from the
 * G.711 expansion rule; encoding is arithmetic and branch-free so the compiler vectorises
 * it: the segment and mantissa of the biased magnitude are read off the exponent and top
 * mantissa bits of its exact float32 value. On CPUs with AVX-512 (see pcm.h) both
 * directions run in 16-bit lanes instead: the segment comes from two 32-word permute
 * lookups, the mantissa from a variable shift, and decoding is sign/segment/mantissa
 * arithmetic (no table gather). Both paths are bit-exact with audioop.
 *
 * int16 PCM is little-endian; codes are one byte per sample. Counts are samples.
 */
#ifndef SCRIBEWIRE_G711_H
#define SCRIBEWIRE_G711_H

#include <stddef.h>
#include <stdint.h>

/* Fills the decode tables; call once, after sw_pcm_init(), before any other function
 * (idempotent). */
void sw_g711_init(void);

extern int16_t sw_ulaw_table[256];
extern int16_t sw_alaw_table[256];

void sw_ulaw_encode(const uint8_t *in, uint8_t *out, size_t n);
void sw_alaw_encode(const uint8_t *in, uint8_t *out, size_t n);

/* codes -> int16 LE through a 256-entry table (sw_ulaw_table or sw_alaw_table). */
void sw_g711_decode(const int16_t *table, const uint8_t *in, uint8_t *out, size_t n);

/* codes -> int16 LE, mu-law and A-law. */
void sw_ulaw_decode(const uint8_t *in, uint8_t *out, size_t n);
void sw_alaw_decode(const uint8_t *in, uint8_t *out, size_t n);

/* nch code buffers of n samples each -> n interleaved int16 LE frames (decode + interleave). */
void sw_g711_decode_interleave(const int16_t *table, const uint8_t *const *chans, size_t nch,
                               size_t n, uint8_t *out);

#endif /* SCRIBEWIRE_G711_H */
