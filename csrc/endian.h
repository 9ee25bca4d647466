/* Endian-safe unaligned loads and stores.
 *
 * The event-stream wire format is big-endian (protocol.md §1.1); the CRC32 kernels
 * read little-endian words. Every access goes through memcpy, which compilers turn
 * into a single (possibly unaligned) load or store plus a byte swap where needed.
 * Compilation fails on a host whose byte order cannot be determined.
 */
#ifndef SCRIBEWIRE_ENDIAN_H
#define SCRIBEWIRE_ENDIAN_H

#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SW_LITTLE_ENDIAN 1
#elif defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) && \
    __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define SW_LITTLE_ENDIAN 0
#elif defined(_MSC_VER)
#define SW_LITTLE_ENDIAN 1
#else
#error "scribewire: cannot determine the host byte order"
#endif

#if defined(__GNUC__) || defined(__clang__)
#define SW_BSWAP16(x) __builtin_bswap16(x)
#define SW_BSWAP32(x) __builtin_bswap32(x)
#define SW_BSWAP64(x) __builtin_bswap64(x)
#else
#define SW_BSWAP16(x) ((uint16_t)((((x) & 0xffu) << 8) | ((x) >> 8)))
#define SW_BSWAP32(x)                                                                   \
    ((((x) & 0xffu) << 24) | (((x) & 0xff00u) << 8) | (((x) >> 8) & 0xff00u) | ((x) >> 24))
#define SW_BSWAP64(x)                                                                   \
    (((uint64_t)SW_BSWAP32((uint32_t)(x)) << 32) | (uint64_t)SW_BSWAP32((uint32_t)((x) >> 32)))
#endif

#if SW_LITTLE_ENDIAN
#define SW_TO_BE16(x) SW_BSWAP16(x)
#define SW_TO_BE32(x) SW_BSWAP32(x)
#define SW_TO_BE64(x) SW_BSWAP64(x)
#define SW_TO_LE32(x) (x)
#define SW_TO_LE64(x) (x)
#else
#define SW_TO_BE16(x) (x)
#define SW_TO_BE32(x) (x)
#define SW_TO_BE64(x) (x)
#define SW_TO_LE32(x) SW_BSWAP32(x)
#define SW_TO_LE64(x) SW_BSWAP64(x)
#endif

static inline uint16_t sw_load_be16(const void *p) {
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return (uint16_t)SW_TO_BE16(v);
}

static inline uint32_t sw_load_be32(const void *p) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return SW_TO_BE32(v);
}

static inline uint64_t sw_load_be64(const void *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return SW_TO_BE64(v);
}

static inline void sw_store_be16(void *p, uint16_t v) {
    v = (uint16_t)SW_TO_BE16(v);
    memcpy(p, &v, sizeof v);
}

static inline void sw_store_be32(void *p, uint32_t v) {
    v = SW_TO_BE32(v);
    memcpy(p, &v, sizeof v);
}

static inline void sw_store_be64(void *p, uint64_t v) {
    v = SW_TO_BE64(v);
    memcpy(p, &v, sizeof v);
}

static inline uint32_t sw_load_le32(const void *p) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return SW_TO_LE32(v);
}

static inline uint64_t sw_load_le64(const void *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return SW_TO_LE64(v);
}

#endif /* SCRIBEWIRE_ENDIAN_H */
