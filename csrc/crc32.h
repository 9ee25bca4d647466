/* CRC-32/ISO-HDLC (the zlib / gzip CRC; protocol.md §1.2) with run-time CPU dispatch.
 *
 * sw_crc32(crc, p, n) has the contract of zlib's crc32(): pass 0 to start, pass the
 * previous result to continue. The code path is chosen once, by CPU detection at run
 * time (never by probing the build host):
 *   x86-64:  VPCLMULQDQ + AVX-512 folding, else PCLMULQDQ folding, else table
 *   aarch64: the ARMv8 CRC32 instructions, else table
 *   other:   braided slicing-by-8 table (the portable path; also forced with
 *            SCRIBEWIRE_CRC32_PATH=table)
 */
#ifndef SCRIBEWIRE_CRC32_H
#define SCRIBEWIRE_CRC32_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Code paths, for sw_crc32_path_*; SW_CRC32_AUTO means "the one chosen at run time". */
enum {
    SW_CRC32_AUTO = 0,
    SW_CRC32_TABLE = 1,
    SW_CRC32_PCLMUL = 2,
    SW_CRC32_VPCLMUL = 3,
    SW_CRC32_ARMV8 = 4,
    SW_CRC32_NPATHS = 5
};

/* Detect the CPU and build the tables. Idempotent; call once before threads start
 * (the Python modules call it at import, under the GIL). */
void sw_crc32_init(void);

/* CRC-32 of p[0..n) continuing from crc (0 to start). Same contract as zlib's crc32(). */
uint32_t sw_crc32(uint32_t crc, const uint8_t *p, size_t n);

/* Name of the path sw_crc32 uses: "vpclmulqdq", "pclmulqdq", "armv8-crc" or "table". */
const char *sw_crc32_impl_name(void);

/* Name of a path by its number, or NULL for an unknown number. */
const char *sw_crc32_path_name(int path);

/* 1 when this CPU (and this build) can run the path, else 0. */
int sw_crc32_path_available(int path);

/* Make sw_crc32 use this path; returns 0, or -1 when the path is not available. */
int sw_crc32_force_path(int path);

/* CRC-32 through one given path (which must be available). */
uint32_t sw_crc32_with(int path, uint32_t crc, const uint8_t *p, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* SCRIBEWIRE_CRC32_H */
