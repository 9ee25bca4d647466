/* CRC-32/ISO-HDLC (zlib / gzip CRC, reflected polynomial 0xEDB88320; protocol.md §1.2).
 *
 * Three families of kernels share one convention: they take and return the *internal*
 * register state (the bitwise complement of the zlib-style CRC value); sw_crc32 does
 * the complementing.
 *
 * Folding (x86-64 PCLMULQDQ, VPCLMULQDQ): the message is viewed as a polynomial over
 * GF(2) in reflected bit order. A 128-bit block A that lies D bits before a block B can
 * be moved onto B by multiplying with x^D modulo P; splitting A into its two 64-bit
 * halves, this is clmul(A.lo, x^(D+32) mod P) ^ clmul(A.hi, x^(D-32) mod P), each
 * constant bit-reflected over 32 bits and shifted left by one (the reflected product of
 * two 64-bit operands is 127 bits wide). Folding leaves a 128-bit remainder whose CRC,
 * computed from a zero state, equals the state after the folded bytes; the kernels
 * finish those 16 bytes and any tail with the table. The constants below were derived
 * from that formula (tests/test_crc32.py recomputes them from P and checks this file).
 *
 * The starting state enters the fold by XOR into the first four message bytes, since
 * CRC(s, M) = CRC(0, M ^ (s << (len(M) - 32))) for the reflected register.
 *
 * The AVX-512 kernel ends its zmm part with _mm256_zeroupper() before the 128-bit folds and
 * the table tail, so it returns with the upper vector state clean
 * (tests/test_vzeroupper.py checks the built extensions).
 */
#include "crc32.h"

#include "endian.h"

#if defined(__x86_64__) || defined(_M_X64)
#define SW_X86 1
#include <cpuid.h>
#include <immintrin.h>
#if defined(__APPLE__)
#include <sys/sysctl.h>
#endif
#else
#define SW_X86 0
#endif

#if defined(__aarch64__)
#define SW_ARM64 1
#include <arm_acle.h>
#if defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif
#endif
#else
#define SW_ARM64 0
#endif

/* ------------------------------------------------------------------ table (portable) */

/* Slicing tables: crc_table[t][b] is the state after byte b followed by t zero bytes. */
static uint32_t crc_table[8][256];

/* Braiding: the input is read as blocks of BRAID_N 64-bit words, and lane k carries its own
 * state through words k, k + N, k + 2N, ...: by linearity the CRC is the XOR of the lanes'
 * contributions. braid_table[j][b] is the state after byte b at position j of a word,
 * followed by the rest of that word and (BRAID_N - 1) * 8 zero bytes (the other lanes'
 * words); it is XORed into the lane's next word. Independent lanes keep the table loads
 * in flight in parallel, which a single slicing-by-8 chain cannot. */
#define BRAID_N 5 /* lanes c0..c4 in crc_table_update */
static uint32_t braid_table[8][256];
static int crc_initialised = 0;

static uint32_t crc_byte(uint32_t s, uint8_t b) {
    return (s >> 8) ^ crc_table[0][(s ^ b) & 0xffu];
}

static void build_tables(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1u) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        }
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        for (int t = 1; t < 8; t++) {
            uint32_t prev = crc_table[t - 1][i];
            crc_table[t][i] = (prev >> 8) ^ crc_table[0][prev & 0xffu];
        }
    }
    for (int j = 0; j < 8; j++) {
        for (uint32_t b = 0; b < 256; b++) {
            uint32_t s = crc_byte(0, (uint8_t)b);
            for (int z = j + 1; z < 8 * BRAID_N; z++) {
                s = crc_byte(s, 0);
            }
            braid_table[j][b] = s;
        }
    }
}

/* Both word kernels below read the 8 bytes at q, the state s mixed into the first four.
 * Only those four depend on the state: the other four index their tables straight from
 * memory, so their extraction costs loads (of which cores have ports to spare) instead
 * of shifts and masks (the ALU work that bounds a table CRC). Byte reads are in memory
 * order, so no byte swapping is needed on any host. */

/* The state after one 8-byte word (slicing-by-8). */
static inline uint32_t crc_word(const uint8_t *q, uint32_t s) {
    uint32_t lo = sw_load_le32(q) ^ s;
    return crc_table[7][lo & 0xffu] ^ crc_table[6][(lo >> 8) & 0xffu] ^
           crc_table[5][(lo >> 16) & 0xffu] ^ crc_table[4][lo >> 24] ^ crc_table[3][q[4]] ^
           crc_table[2][q[5]] ^ crc_table[1][q[6]] ^ crc_table[0][q[7]];
}

/* One lane's step: its state carried over the word and the other lanes' words. */
static inline uint32_t braid_word(const uint8_t *q, uint32_t s) {
    uint32_t lo = sw_load_le32(q) ^ s;
    return braid_table[0][lo & 0xffu] ^ braid_table[1][(lo >> 8) & 0xffu] ^
           braid_table[2][(lo >> 16) & 0xffu] ^ braid_table[3][lo >> 24] ^
           braid_table[4][q[4]] ^ braid_table[5][q[5]] ^ braid_table[6][q[6]] ^
           braid_table[7][q[7]];
}

/* Portable kernel: braided slicing-by-8 over long runs, slicing-by-8 and bytes after. */
static uint32_t crc_table_update(uint32_t s, const uint8_t *p, size_t n) {
    while (n && ((uintptr_t)p & 7u)) {
        s = crc_byte(s, *p++);
        n--;
    }
    if (n >= 16 * BRAID_N) {
        /* the lanes in named variables: kept in registers even at -O2 */
        uint32_t c0 = s, c1 = 0, c2 = 0, c3 = 0, c4 = 0;
        size_t blocks = n / (8 * BRAID_N) - 1;
        while (blocks--) {
            c0 = braid_word(p, c0);
            c1 = braid_word(p + 8, c1);
            c2 = braid_word(p + 16, c2);
            c3 = braid_word(p + 24, c3);
            c4 = braid_word(p + 32, c4);
            p += 8 * BRAID_N;
            n -= 8 * BRAID_N;
        }
        /* last full block: fold the lanes back into one chain */
        s = crc_word(p, c0);
        s = crc_word(p + 8, c1 ^ s);
        s = crc_word(p + 16, c2 ^ s);
        s = crc_word(p + 24, c3 ^ s);
        s = crc_word(p + 32, c4 ^ s);
        p += 8 * BRAID_N;
        n -= 8 * BRAID_N;
    }
    while (n >= 8) {
        s = crc_word(p, s);
        p += 8;
        n -= 8;
    }
    while (n--) {
        s = crc_byte(s, *p++);
    }
    return s;
}

/* ------------------------------------------------------------------ x86-64 folding */

#if SW_X86

/* Fold constants: low qword k(D+32), high qword k(D-32), k(e) = reflect32(x^e mod P) << 1. */
#define K_D128_LO 0x1751997d0ULL  /* x^160 */
#define K_D128_HI 0x0ccaa009eULL  /* x^96 */
#define K_D256_LO 0x0f1da05aaULL  /* x^288 */
#define K_D256_HI 0x15a546366ULL  /* x^224 */
#define K_D384_LO 0x03db1ecdcULL  /* x^416 */
#define K_D384_HI 0x174359406ULL  /* x^352 */
#define K_D512_LO 0x154442bd4ULL  /* x^544 */
#define K_D512_HI 0x1c6e41596ULL  /* x^480 */
#define K_D2048_LO 0x11542778aULL /* x^2080 */
#define K_D2048_HI 0x1322d1430ULL /* x^2016 */

#define SW_TARGET_PCLMUL __attribute__((target("pclmul,sse4.1")))
#define SW_TARGET_VPCLMUL \
    __attribute__((target("pclmul,sse4.1,avx2,avx512f,avx512vl,vpclmulqdq")))

/* Move x forward by the distance its constants encode. */
SW_TARGET_PCLMUL static inline __m128i fold128(__m128i x, __m128i k) {
    return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11));
}

/* The state after a 16-byte folded remainder, then the tail. */
SW_TARGET_PCLMUL static uint32_t finish128(__m128i x, const uint8_t *p, size_t n) {
    uint8_t rem[16];
    _mm_storeu_si128((__m128i *)(void *)rem, x);
    return crc_table_update(crc_table_update(0, rem, 16), p, n);
}

/* 4 x 128-bit lanes, 64 bytes per step; fold-by-one for the rest. */
SW_TARGET_PCLMUL static uint32_t crc_pclmul_update(uint32_t s, const uint8_t *p, size_t n) {
    if (n < 64) {
        return crc_table_update(s, p, n);
    }
    const __m128i k512 = _mm_set_epi64x((long long)K_D512_HI, (long long)K_D512_LO);
    const __m128i k128 = _mm_set_epi64x((long long)K_D128_HI, (long long)K_D128_LO);
    __m128i x0 = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i x1 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
    __m128i x2 = _mm_loadu_si128((const __m128i *)(const void *)(p + 32));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(const void *)(p + 48));
    x0 = _mm_xor_si128(x0, _mm_cvtsi32_si128((int)s));
    p += 64;
    n -= 64;
    while (n >= 64) {
        x0 = _mm_xor_si128(fold128(x0, k512), _mm_loadu_si128((const __m128i *)(const void *)p));
        x1 = _mm_xor_si128(fold128(x1, k512),
                           _mm_loadu_si128((const __m128i *)(const void *)(p + 16)));
        x2 = _mm_xor_si128(fold128(x2, k512),
                           _mm_loadu_si128((const __m128i *)(const void *)(p + 32)));
        x3 = _mm_xor_si128(fold128(x3, k512),
                           _mm_loadu_si128((const __m128i *)(const void *)(p + 48)));
        p += 64;
        n -= 64;
    }
    x1 = _mm_xor_si128(x1, fold128(x0, k128));
    x2 = _mm_xor_si128(x2, fold128(x1, k128));
    x3 = _mm_xor_si128(x3, fold128(x2, k128));
    while (n >= 16) {
        x3 = _mm_xor_si128(fold128(x3, k128), _mm_loadu_si128((const __m128i *)(const void *)p));
        p += 16;
        n -= 16;
    }
    return finish128(x3, p, n);
}

SW_TARGET_VPCLMUL static inline __m512i fold512(__m512i x, __m512i k, __m512i data) {
    /* 0x96: three-way XOR */
    return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(x, k, 0x00),
                                     _mm512_clmulepi64_epi128(x, k, 0x11), data, 0x96);
}

/* 4 x 512-bit registers, 256 bytes per step; then 64-byte steps; then lanes to 128. */
SW_TARGET_VPCLMUL static uint32_t crc_vpclmul_update(uint32_t s, const uint8_t *p, size_t n) {
    if (n < 256) {
        return crc_pclmul_update(s, p, n);
    }
    const __m512i k2048 = _mm512_broadcast_i32x4(
        _mm_set_epi64x((long long)K_D2048_HI, (long long)K_D2048_LO));
    const __m512i k512 =
        _mm512_broadcast_i32x4(_mm_set_epi64x((long long)K_D512_HI, (long long)K_D512_LO));
    __m512i z0 = _mm512_loadu_si512((const void *)p);
    __m512i z1 = _mm512_loadu_si512((const void *)(p + 64));
    __m512i z2 = _mm512_loadu_si512((const void *)(p + 128));
    __m512i z3 = _mm512_loadu_si512((const void *)(p + 192));
    z0 = _mm512_xor_si512(z0, _mm512_zextsi128_si512(_mm_cvtsi32_si128((int)s)));
    p += 256;
    n -= 256;
    while (n >= 256) {
        z0 = fold512(z0, k2048, _mm512_loadu_si512((const void *)p));
        z1 = fold512(z1, k2048, _mm512_loadu_si512((const void *)(p + 64)));
        z2 = fold512(z2, k2048, _mm512_loadu_si512((const void *)(p + 128)));
        z3 = fold512(z3, k2048, _mm512_loadu_si512((const void *)(p + 192)));
        p += 256;
        n -= 256;
    }
    z1 = fold512(z0, k512, z1);
    z2 = fold512(z1, k512, z2);
    z3 = fold512(z2, k512, z3);
    while (n >= 64) {
        z3 = fold512(z3, k512, _mm512_loadu_si512((const void *)p));
        p += 64;
        n -= 64;
    }
    /* lanes 0..3 of z3 sit 384, 256, 128 and 0 bits before the end of the register */
    const __m128i k384 = _mm_set_epi64x((long long)K_D384_HI, (long long)K_D384_LO);
    const __m128i k256 = _mm_set_epi64x((long long)K_D256_HI, (long long)K_D256_LO);
    const __m128i k128 = _mm_set_epi64x((long long)K_D128_HI, (long long)K_D128_LO);
    __m128i x = _mm512_extracti32x4_epi32(z3, 3);
    x = _mm_ternarylogic_epi64(x, fold128(_mm512_extracti32x4_epi32(z3, 0), k384),
                               fold128(_mm512_extracti32x4_epi32(z3, 1), k256), 0x96);
    x = _mm_xor_si128(x, fold128(_mm512_extracti32x4_epi32(z3, 2), k128));
    /* Done with the zmm registers: clear their upper halves before the scalar tail and the
     * return, or legacy-SSE code run next by the caller (CPython) pays the AVX-SSE
     * transition on every call. Left to itself GCC 12 emits no vzeroupper on this path (it
     * knows crc_table_update spares the vector registers); given this one it adds a
     * redundant second just before it (harmless, well under 1 ns). The 128-bit folds below
     * are VEX-encoded and keep the state clean. */
    _mm256_zeroupper();
    while (n >= 16) {
        x = _mm_xor_si128(fold128(x, k128), _mm_loadu_si128((const __m128i *)(const void *)p));
        p += 16;
        n -= 16;
    }
    return finish128(x, p, n);
}

static int x86_has_pclmul(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) {
        return 0;
    }
    return (c & (1u << 1)) && (c & (1u << 19)); /* PCLMULQDQ, SSE4.1 */
}

static int x86_has_vpclmul(void) {
    unsigned a, b, c, d;
    if (!x86_has_pclmul() || !__get_cpuid(1, &a, &b, &c, &d)) {
        return 0;
    }
    if (!(c & (1u << 27))) { /* OSXSAVE: the OS manages extended register state */
        return 0;
    }
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        return 0;
    }
    /* AVX2 (ebx 5), AVX512F (ebx 16), AVX512VL (ebx 31), VPCLMULQDQ (ecx 10) */
    if (!(b & (1u << 5)) || !(b & (1u << 16)) || !(b & (1u << 31)) || !(c & (1u << 10))) {
        return 0;
    }
#if defined(__APPLE__)
    /* macOS enables AVX-512 state on first use, so XCR0 may not show it yet. */
    int avx512 = 0;
    size_t len = sizeof avx512;
    if (sysctlbyname("hw.optional.avx512f", &avx512, &len, NULL, 0) != 0) {
        return 0;
    }
    return avx512 != 0;
#else
    unsigned xcr0_lo, xcr0_hi;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    (void)xcr0_hi;
    /* SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM state enabled */
    return (xcr0_lo & 0xE6u) == 0xE6u;
#endif
}

#endif /* SW_X86 */

/* ------------------------------------------------------------------ aarch64 CRC32 */

#if SW_ARM64

#if defined(__clang__)
#define SW_TARGET_CRC __attribute__((target("crc")))
#else
#define SW_TARGET_CRC __attribute__((target("+crc")))
#endif

/* The ARMv8 CRC32{B,H,W,X} instructions implement this polynomial on the raw register. */
SW_TARGET_CRC static uint32_t crc_armv8_update(uint32_t s, const uint8_t *p, size_t n) {
    while (n && ((uintptr_t)p & 7u)) {
        s = __crc32b(s, *p++);
        n--;
    }
    while (n >= 32) {
        s = __crc32d(s, sw_load_le64(p));
        s = __crc32d(s, sw_load_le64(p + 8));
        s = __crc32d(s, sw_load_le64(p + 16));
        s = __crc32d(s, sw_load_le64(p + 24));
        p += 32;
        n -= 32;
    }
    while (n >= 8) {
        s = __crc32d(s, sw_load_le64(p));
        p += 8;
        n -= 8;
    }
    while (n--) {
        s = __crc32b(s, *p++);
    }
    return s;
}

static int arm64_has_crc(void) {
#if defined(__APPLE__)
    return 1; /* every Apple arm64 CPU implements the CRC32 extension */
#elif defined(__linux__)
    return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0;
#else
    return 0;
#endif
}

#endif /* SW_ARM64 */

/* ------------------------------------------------------------------ dispatch */

typedef uint32_t (*crc_update_fn)(uint32_t, const uint8_t *, size_t);

static const char *const path_names[SW_CRC32_NPATHS] = {
    "auto", "table", "pclmulqdq", "vpclmulqdq", "armv8-crc",
};

static int path_ok[SW_CRC32_NPATHS];
static crc_update_fn path_fn[SW_CRC32_NPATHS];
static int chosen = SW_CRC32_TABLE;
static int detected = SW_CRC32_TABLE;

void sw_crc32_init(void) {
    if (crc_initialised) {
        return;
    }
    build_tables();
    path_ok[SW_CRC32_TABLE] = 1;
    path_fn[SW_CRC32_TABLE] = crc_table_update;
    chosen = SW_CRC32_TABLE;
#if SW_X86
    if (x86_has_pclmul()) {
        path_ok[SW_CRC32_PCLMUL] = 1;
        path_fn[SW_CRC32_PCLMUL] = crc_pclmul_update;
        chosen = SW_CRC32_PCLMUL;
    }
    if (x86_has_vpclmul()) {
        path_ok[SW_CRC32_VPCLMUL] = 1;
        path_fn[SW_CRC32_VPCLMUL] = crc_vpclmul_update;
        chosen = SW_CRC32_VPCLMUL;
    }
#endif
#if SW_ARM64
    if (arm64_has_crc()) {
        path_ok[SW_CRC32_ARMV8] = 1;
        path_fn[SW_CRC32_ARMV8] = crc_armv8_update;
        chosen = SW_CRC32_ARMV8;
    }
#endif
    path_ok[SW_CRC32_AUTO] = 1;
    detected = chosen;
    crc_initialised = 1;
}

uint32_t sw_crc32(uint32_t crc, const uint8_t *p, size_t n) {
    if (!crc_initialised) {
        sw_crc32_init();
    }
    return ~path_fn[chosen](~crc, p, n);
}

const char *sw_crc32_impl_name(void) {
    sw_crc32_init();
    return path_names[chosen];
}

const char *sw_crc32_path_name(int path) {
    if (path < 0 || path >= SW_CRC32_NPATHS) {
        return NULL;
    }
    return path_names[path];
}

int sw_crc32_path_available(int path) {
    sw_crc32_init();
    if (path < 0 || path >= SW_CRC32_NPATHS) {
        return 0;
    }
    return path_ok[path];
}

int sw_crc32_force_path(int path) {
    if (!sw_crc32_path_available(path)) {
        return -1;
    }
    chosen = path == SW_CRC32_AUTO ? detected : path;
    return 0;
}

uint32_t sw_crc32_with(int path, uint32_t crc, const uint8_t *p, size_t n) {
    if (path == SW_CRC32_AUTO || !sw_crc32_path_available(path)) {
        return sw_crc32(crc, p, n);
    }
    return ~path_fn[path](~crc, p, n);
}
