/// SHA-1 compression (FIPS 180-4 §6.1) with a SHA-NI path and a portable fallback.
///
/// Also home of the CPU feature probe and the "force portable" switch shared with sha256.c.

#include "CTTCrypto.h"
#include "sha_ni.h"

#include <stdatomic.h>

#if TT_X86
#include <cpuid.h>
#endif

// MARK: - CPU feature selection

// -1 = not probed yet. Racing first calls all store the same answer, so relaxed is enough.
static _Atomic int sha_ni_cached = -1;
static _Atomic int force_portable = 0;

/// Asks CPUID whether SHA, SSE4.1 and SSSE3 are all present.
static int probe_sha_ni(void) {
#if TT_X86
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    int sse41 = (ecx >> 19) & 1;
    int ssse3 = (ecx >> 9) & 1;
    if (!sse41 || !ssse3) return 0;
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    return (int)((ebx >> 29) & 1);
#else
    return 0;
#endif
}

int tt_sha_ni_available(void) {
    int v = atomic_load_explicit(&sha_ni_cached, memory_order_relaxed);
    if (v < 0) {
        v = probe_sha_ni();
        atomic_store_explicit(&sha_ni_cached, v, memory_order_relaxed);
    }
    return v;
}

int tt_sha_hardware_active(void) {
    return !atomic_load_explicit(&force_portable, memory_order_relaxed) && tt_sha_ni_available();
}

int tt_sha_portable_forced(void) {
    return atomic_load_explicit(&force_portable, memory_order_relaxed);
}

void tt_sha_force_portable(int force) {
    atomic_store_explicit(&force_portable, force ? 1 : 0, memory_order_relaxed);
}

// MARK: - Portable

static inline uint32_t rol32(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static inline uint32_t load_be32(const uint8_t *p) {
    // Byte-wise so it is alignment- and endian-agnostic; compilers turn it into one bswap load.
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

// One round; the caller rotates the roles of a..e instead of moving values between them.
#define SHA1_R(a, b, c, d, e, f, k, wt)                     \
    do {                                                    \
        (e) += rol32((a), 5) + (f) + (uint32_t)(k) + (wt);  \
        (b) = rol32((b), 30);                               \
    } while (0)

#define F1(b, c, d) ((d) ^ ((b) & ((c) ^ (d))))
#define F2(b, c, d) ((b) ^ (c) ^ (d))
#define F3(b, c, d) (((b) & (c)) | ((d) & ((b) | (c))))

// Message schedule in a 16-word ring: W[t] = rol1(W[t-3] ^ W[t-8] ^ W[t-14] ^ W[t-16]).
#define W_NEXT(t) (w[(t) & 15] = rol32(w[((t) + 13) & 15] ^ w[((t) + 8) & 15] ^ w[((t) + 2) & 15] ^ w[(t) & 15], 1))

// Five rounds with the a..e roles rotated back to where they started.
#define SHA1_5(F, k, wt0, wt1, wt2, wt3, wt4)             \
    SHA1_R(a, b, c, d, e, F(b, c, d), k, wt0);            \
    SHA1_R(e, a, b, c, d, F(a, b, c), k, wt1);            \
    SHA1_R(d, e, a, b, c, F(e, a, b), k, wt2);            \
    SHA1_R(c, d, e, a, b, F(d, e, a), k, wt3);            \
    SHA1_R(b, c, d, e, a, F(c, d, e), k, wt4)

void tt_sha1_blocks_portable(uint32_t state[5], const uint8_t *data, size_t nblocks) {
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3], e = state[4];
    uint32_t w[16];

    while (nblocks--) {
        const uint32_t sa = a, sb = b, sc = c, sd = d, se = e;
        for (int i = 0; i < 16; i++) w[i] = load_be32(data + 4 * i);

        SHA1_5(F1, 0x5A827999, w[0], w[1], w[2], w[3], w[4]);
        SHA1_5(F1, 0x5A827999, w[5], w[6], w[7], w[8], w[9]);
        SHA1_5(F1, 0x5A827999, w[10], w[11], w[12], w[13], w[14]);
        SHA1_5(F1, 0x5A827999, w[15], W_NEXT(16), W_NEXT(17), W_NEXT(18), W_NEXT(19));

        SHA1_5(F2, 0x6ED9EBA1, W_NEXT(20), W_NEXT(21), W_NEXT(22), W_NEXT(23), W_NEXT(24));
        SHA1_5(F2, 0x6ED9EBA1, W_NEXT(25), W_NEXT(26), W_NEXT(27), W_NEXT(28), W_NEXT(29));
        SHA1_5(F2, 0x6ED9EBA1, W_NEXT(30), W_NEXT(31), W_NEXT(32), W_NEXT(33), W_NEXT(34));
        SHA1_5(F2, 0x6ED9EBA1, W_NEXT(35), W_NEXT(36), W_NEXT(37), W_NEXT(38), W_NEXT(39));

        SHA1_5(F3, 0x8F1BBCDC, W_NEXT(40), W_NEXT(41), W_NEXT(42), W_NEXT(43), W_NEXT(44));
        SHA1_5(F3, 0x8F1BBCDC, W_NEXT(45), W_NEXT(46), W_NEXT(47), W_NEXT(48), W_NEXT(49));
        SHA1_5(F3, 0x8F1BBCDC, W_NEXT(50), W_NEXT(51), W_NEXT(52), W_NEXT(53), W_NEXT(54));
        SHA1_5(F3, 0x8F1BBCDC, W_NEXT(55), W_NEXT(56), W_NEXT(57), W_NEXT(58), W_NEXT(59));

        SHA1_5(F2, 0xCA62C1D6, W_NEXT(60), W_NEXT(61), W_NEXT(62), W_NEXT(63), W_NEXT(64));
        SHA1_5(F2, 0xCA62C1D6, W_NEXT(65), W_NEXT(66), W_NEXT(67), W_NEXT(68), W_NEXT(69));
        SHA1_5(F2, 0xCA62C1D6, W_NEXT(70), W_NEXT(71), W_NEXT(72), W_NEXT(73), W_NEXT(74));
        SHA1_5(F2, 0xCA62C1D6, W_NEXT(75), W_NEXT(76), W_NEXT(77), W_NEXT(78), W_NEXT(79));

        a += sa; b += sb; c += sc; d += sd; e += se;
        data += 64;
    }

    state[0] = a; state[1] = b; state[2] = c; state[3] = d; state[4] = e;
}

// MARK: - SHA-NI

#if TT_X86

TT_SHA_NI_TARGET
static void sha1_blocks_ni(uint32_t state[5], const uint8_t *data, size_t nblocks) {
    __m128i abcd, e;
    tt_sha1_ni_get(state, &abcd, &e);

    while (nblocks--) {
        const __m128i abcd_save = abcd, e_save = e;
        __m128i e_prev, w[4];
        tt_sha1_ni_load(w, data);
#define STEP(k) TT_SHA1_NI_STEP(k, abcd, e, e_prev, w)
        STEP(0);  STEP(1);  STEP(2);  STEP(3);  STEP(4);  STEP(5);  STEP(6);  STEP(7);  STEP(8);  STEP(9);
        STEP(10); STEP(11); STEP(12); STEP(13); STEP(14); STEP(15); STEP(16); STEP(17); STEP(18); STEP(19);
#undef STEP
        // nexte both rotates the old E into place and adds it, finishing E's feed-forward.
        e = _mm_sha1nexte_epu32(e_prev, e_save);
        abcd = _mm_add_epi32(abcd, abcd_save);
        data += 64;
    }

    tt_sha1_ni_put(state, abcd, e);
}

#endif

// MARK: - Dispatch

void tt_sha1_blocks_hardware(uint32_t state[5], const uint8_t *data, size_t nblocks) {
#if TT_X86
    if (tt_sha_ni_available()) {
        sha1_blocks_ni(state, data, nblocks);
        return;
    }
#endif
    tt_sha1_blocks_portable(state, data, nblocks);
}

void tt_sha1_blocks(uint32_t state[5], const uint8_t *data, size_t nblocks) {
#if TT_X86
    if (tt_sha_hardware_active()) {
        sha1_blocks_ni(state, data, nblocks);
        return;
    }
#endif
    tt_sha1_blocks_portable(state, data, nblocks);
}
