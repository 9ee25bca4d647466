/* WebSocket client frame kernel (RFC 6455 §5.2 base framing, §5.3 client-to-server masking).
 *
 * A client frame is: FIN + opcode, MASK bit + payload length (7 bits, or 126 + 16-bit, or
 * 127 + 64-bit, network byte order), the 4-byte masking key, then the payload with octet i
 * XORed with key octet i mod 4. Buffers may be unaligned: words go through memcpy, which
 * compilers turn into plain (vectorised) loads and stores.
 */
#ifndef SCRIBEWIRE_WSFRAME_H
#define SCRIBEWIRE_WSFRAME_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "endian.h"

/* Header bytes before the payload of a masked frame of n payload bytes (6, 8 or 14). */
static inline size_t sw_ws_header_len(uint64_t n)
{
    return n < 126 ? 6 : (n < 65536 ? 8 : 14);
}

/* Writes the header of a masked frame (FIN set, opcode in the low 4 bits of byte 0) with
 * payload length n and masking key `key` into `out`; returns the bytes written. */
static inline size_t sw_ws_write_header(uint8_t *out, unsigned opcode, uint64_t n,
                                        const uint8_t key[4])
{
    size_t at;
    out[0] = (uint8_t)(0x80u | (opcode & 0x0fu));
    if (n < 126) {
        out[1] = (uint8_t)(0x80u | n);
        at = 2;
    } else if (n < 65536) {
        out[1] = 0x80u | 126u;
        sw_store_be16(out + 2, (uint16_t)n);
        at = 4;
    } else {
        out[1] = 0x80u | 127u;
        sw_store_be64(out + 2, n); /* callers keep n < 2^63: the top bit must be 0 */
        at = 10;
    }
    memcpy(out + at, key, 4);
    return at + 4;
}

/* dst[i] = src[i] ^ key[i % 4] for i < n; dst and src may be the same buffer. */
static inline void sw_ws_mask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4])
{
    uint8_t k8[8];
    uint64_t k, w;
    size_t i = 0;
    memcpy(k8, key, 4);
    memcpy(k8 + 4, key, 4);
    memcpy(&k, k8, 8); /* the key twice: every 8-byte word starts at a multiple of 4 */
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, src + i, 8);
        w ^= k;
        memcpy(dst + i, &w, 8);
    }
    for (; i < n; i++)
        dst[i] = (uint8_t)(src[i] ^ key[i & 3]);
}

#endif
