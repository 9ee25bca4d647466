/* Event-stream message writer (protocol.md §1.1): shared by the codec (_eventstream_c) and the
 * fused AudioEvent-in-a-WebSocket-frame kernel (_wsframe_c).
 *
 * A message is: total length (4 bytes, big-endian), headers length (4), the CRC32 of those
 * 8 bytes, the headers, the payload, and the CRC32 of everything before it. Lengths are
 * validated by the caller; the CRC32 kernel (crc32.h) must be initialised.
 */
#ifndef SCRIBEWIRE_EVENTSTREAM_H
#define SCRIBEWIRE_EVENTSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "crc32.h"
#include "endian.h"

#define SW_ES_OVERHEAD 16 /* prelude (12) + message CRC (4) */

/* Writes the message of `hlen` header bytes and `plen` payload bytes into `w`, which has room
 * for SW_ES_OVERHEAD + hlen + plen bytes (the total, < 2^32). */
static inline void sw_es_write_message(uint8_t *w, const uint8_t *hdr, size_t hlen,
                                       const uint8_t *payload, size_t plen)
{
    size_t total = SW_ES_OVERHEAD + hlen + plen;
    uint32_t crc;
    sw_store_be32(w, (uint32_t)total);
    sw_store_be32(w + 4, (uint32_t)hlen);
    crc = sw_crc32(0, w, 8);
    sw_store_be32(w + 8, crc);
    memcpy(w + 12, hdr, hlen);
    memcpy(w + 12 + hlen, payload, plen);
    crc = sw_crc32(crc, w + 8, total - 12);
    sw_store_be32(w + total - 4, crc);
}

#endif
