/// SHA-NI building blocks shared by the one-chain kernels (sha1.c, sha256.c) and the interleaved
/// ones (sha_pairs.c). Private to CTTCrypto: not under include/.
///
/// The step macros take the names of the registers they work on, so a kernel can run two or
/// three independent chains side by side: each SHA instruction has a latency of several cycles
/// and one chain leaves the SHA unit idle most of that time.
#ifndef CTTCRYPTO_SHA_NI_H
#define CTTCRYPTO_SHA_NI_H

#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#define TT_X86 1
#include <immintrin.h>
#endif

/// The SHA-256 round constants (FIPS 180-4 §4.2.2), 16-byte aligned for the SHA-NI loads.
extern const uint32_t tt_sha256_k[64] __attribute__((visibility("hidden")));

/// True while `tt_sha_force_portable` is on (sha1.c).
int tt_sha_portable_forced(void) __attribute__((visibility("hidden")));

#if TT_X86

#define TT_SHA_NI_TARGET __attribute__((target("sha,sse4.1,ssse3")))
#define TT_SHA_NI_INLINE static inline __attribute__((always_inline, target("sha,sse4.1,ssse3")))

// Four SHA-1 rounds k (0..19) of the Intel SHA-NI sequence, over a 4-slot ring of message
// vectors where slot k%4 holds W[4k..4k+3]. At step k the schedule work is spread so each
// vector is ready just in time: msg2 finishes W[k+1], the xor adds W[t-8] into W[k+2], msg1
// starts W[k+3]. `k` is always a literal, so the range tests fold away and the array is kept
// in registers.
#define TT_SHA1_NI_STEP(k, abcd, e, e_prev, w)                                               \
    do {                                                                                    \
        if ((k) == 0)                                                                       \
            e = _mm_add_epi32(e, w[0]);                                                     \
        else                                                                                \
            e = _mm_sha1nexte_epu32(e_prev, w[(k) & 3]);                                    \
        e_prev = abcd;                                                                      \
        if ((k) >= 3 && (k) <= 18)                                                          \
            w[((k) + 1) & 3] = _mm_sha1msg2_epu32(w[((k) + 1) & 3], w[(k) & 3]);             \
        abcd = _mm_sha1rnds4_epu32(abcd, e, (k) / 5);                                       \
        if ((k) >= 1 && (k) <= 16)                                                          \
            w[((k) + 3) & 3] = _mm_sha1msg1_epu32(w[((k) + 3) & 3], w[(k) & 3]);             \
        if ((k) >= 2 && (k) <= 17)                                                          \
            w[((k) + 2) & 3] = _mm_xor_si128(w[((k) + 2) & 3], w[(k) & 3]);                  \
    } while (0)

// Four SHA-256 rounds k (0..15), over the same kind of ring. Each rnds2 does two rounds,
// taking the low two words of `m`. Alongside, msg2 finishes W[k+1] (after adding W[t-7],
// which straddles W[k-1] and W[k]) and msg1 starts W[k+3].
#define TT_SHA256_NI_STEP(k, abef, cdgh, w)                                                  \
    do {                                                                                    \
        __m128i m_ = _mm_add_epi32(w[(k) & 3], _mm_load_si128((const __m128i *)&tt_sha256_k[4 * (k)])); \
        cdgh = _mm_sha256rnds2_epu32(cdgh, abef, m_);                                       \
        if ((k) >= 3 && (k) <= 14) {                                                        \
            __m128i w7_ = _mm_alignr_epi8(w[(k) & 3], w[((k) + 3) & 3], 4);                 \
            w[((k) + 1) & 3] = _mm_sha256msg2_epu32(_mm_add_epi32(w[((k) + 1) & 3], w7_), w[(k) & 3]); \
        }                                                                                   \
        m_ = _mm_shuffle_epi32(m_, 0x0E);                                                   \
        abef = _mm_sha256rnds2_epu32(abef, cdgh, m_);                                       \
        if ((k) >= 1 && (k) <= 12)                                                          \
            w[((k) + 3) & 3] = _mm_sha256msg1_epu32(w[((k) + 3) & 3], w[(k) & 3]);           \
    } while (0)

/// Loads a 64-byte block as SHA-1 wants it: the bytes of the whole vector reversed (big-endian
/// words, and word 0 in the top lane where the SHA instructions expect the earliest word).
TT_SHA_NI_INLINE void tt_sha1_ni_load(__m128i w[4], const uint8_t *data) {
    const __m128i bswap = _mm_set_epi64x(0x0001020304050607ULL, 0x08090a0b0c0d0e0fULL);
    for (int i = 0; i < 4; i++) w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16 * i)), bswap);
}

/// Loads a 64-byte block as SHA-256 wants it: each 32-bit word byte-swapped, word order kept.
TT_SHA_NI_INLINE void tt_sha256_ni_load(__m128i w[4], const uint8_t *data) {
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    for (int i = 0; i < 4; i++) w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16 * i)), bswap);
}

TT_SHA_NI_INLINE void tt_sha1_ni_get(const uint32_t state[5], __m128i *abcd, __m128i *e) {
    *abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)state), 0x1B);
    *e = _mm_set_epi32((int)state[4], 0, 0, 0);
}

TT_SHA_NI_INLINE void tt_sha1_ni_put(uint32_t state[5], __m128i abcd, __m128i e) {
    _mm_storeu_si128((__m128i *)state, _mm_shuffle_epi32(abcd, 0x1B));
    state[4] = (uint32_t)_mm_extract_epi32(e, 3);
}

/// The instructions want the SHA-256 state as ABEF and CDGH vectors (A in the top lane).
TT_SHA_NI_INLINE void tt_sha256_ni_get(const uint32_t state[8], __m128i *abef, __m128i *cdgh) {
    __m128i dcba = _mm_loadu_si128((const __m128i *)&state[0]);
    __m128i hgfe = _mm_loadu_si128((const __m128i *)&state[4]);
    __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
    __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
    *abef = _mm_alignr_epi8(cdab, efgh, 8);
    *cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
}

/// Back from ABEF/CDGH to DCBA/HGFE (word 0 = A in memory order).
TT_SHA_NI_INLINE void tt_sha256_ni_put(uint32_t state[8], __m128i abef, __m128i cdgh) {
    __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128((__m128i *)&state[0], _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128((__m128i *)&state[4], _mm_alignr_epi8(dchg, feba, 8));
}

#endif

#endif
