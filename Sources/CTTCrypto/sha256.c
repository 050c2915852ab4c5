/// SHA-256 compression (FIPS 180-4 §6.2) with a SHA-NI path and a portable fallback.
///
/// CPU selection (`tt_sha_ni_available`, `tt_sha_hardware_active`) lives in sha1.c.

#include "CTTCrypto.h"
#include "sha_ni.h"

// 16-byte aligned so the SHA-NI paths can load four constants per instruction.
const uint32_t tt_sha256_k[64] __attribute__((aligned(16))) = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

// MARK: - Portable

static inline uint32_t ror32(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static inline uint32_t load_be32(const uint8_t *p) {
    // Byte-wise so it is alignment- and endian-agnostic; compilers turn it into one bswap load.
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

#define BSIG0(x) (ror32((x), 2) ^ ror32((x), 13) ^ ror32((x), 22))
#define BSIG1(x) (ror32((x), 6) ^ ror32((x), 11) ^ ror32((x), 25))
#define SSIG0(x) (ror32((x), 7) ^ ror32((x), 18) ^ ((x) >> 3))
#define SSIG1(x) (ror32((x), 17) ^ ror32((x), 19) ^ ((x) >> 10))
#define CH(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define MAJ(x, y, z) (((x) & (y)) | ((z) & ((x) | (y))))

// One round with the a..h roles passed in rotated order, so no values are shuffled between
// variables; only d and h change.
#define SHA256_R(a, b, c, d, e, f, g, h, t)                                 \
    do {                                                                    \
        uint32_t t1 = (h) + BSIG1(e) + CH((e), (f), (g)) + tt_sha256_k[t] + w[(t) & 15]; \
        (d) += t1;                                                          \
        (h) = t1 + BSIG0(a) + MAJ((a), (b), (c));                           \
    } while (0)

// Message schedule in a 16-word ring: W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16].
#define SHA256_W(t)                                                                     \
    (w[(t) & 15] += SSIG1(w[((t) + 14) & 15]) + w[((t) + 9) & 15] + SSIG0(w[((t) + 1) & 15]))

// Eight rounds starting at t, rotating the roles all the way round.
#define SHA256_8(t)                                   \
    SHA256_R(a, b, c, d, e, f, g, h, (t) + 0);        \
    SHA256_R(h, a, b, c, d, e, f, g, (t) + 1);        \
    SHA256_R(g, h, a, b, c, d, e, f, (t) + 2);        \
    SHA256_R(f, g, h, a, b, c, d, e, (t) + 3);        \
    SHA256_R(e, f, g, h, a, b, c, d, (t) + 4);        \
    SHA256_R(d, e, f, g, h, a, b, c, (t) + 5);        \
    SHA256_R(c, d, e, f, g, h, a, b, (t) + 6);        \
    SHA256_R(b, c, d, e, f, g, h, a, (t) + 7)

#define SHA256_W8(t)                                                                    \
    SHA256_W((t) + 0); SHA256_W((t) + 1); SHA256_W((t) + 2); SHA256_W((t) + 3);         \
    SHA256_W((t) + 4); SHA256_W((t) + 5); SHA256_W((t) + 6); SHA256_W((t) + 7)

void tt_sha256_blocks_portable(uint32_t state[8], const uint8_t *data, size_t nblocks) {
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
    uint32_t w[16];

    while (nblocks--) {
        for (int i = 0; i < 16; i++) w[i] = load_be32(data + 4 * i);

        SHA256_8(0);
        SHA256_8(8);
        for (int t = 16; t < 64; t += 16) {
            // Extending the schedule 8 words ahead of the rounds that consume them is safe:
            // W[t+7] only needs words up to W[t+5] and back to W[t-9], all still in the ring.
            SHA256_W8(t);
            SHA256_8(t);
            SHA256_W8(t + 8);
            SHA256_8(t + 8);
        }

        a = state[0] += a; b = state[1] += b; c = state[2] += c; d = state[3] += d;
        e = state[4] += e; f = state[5] += f; g = state[6] += g; h = state[7] += h;
        data += 64;
    }
}

// MARK: - SHA-NI

#if TT_X86

TT_SHA_NI_TARGET
static void sha256_blocks_ni(uint32_t state[8], const uint8_t *data, size_t nblocks) {
    __m128i abef, cdgh;
    tt_sha256_ni_get(state, &abef, &cdgh);

    while (nblocks--) {
        const __m128i abef_save = abef, cdgh_save = cdgh;
        __m128i w[4];
        tt_sha256_ni_load(w, data);
#define STEP(k) TT_SHA256_NI_STEP(k, abef, cdgh, w)
        STEP(0);  STEP(1);  STEP(2);  STEP(3);  STEP(4);  STEP(5);  STEP(6);  STEP(7);
        STEP(8);  STEP(9);  STEP(10); STEP(11); STEP(12); STEP(13); STEP(14); STEP(15);
#undef STEP
        abef = _mm_add_epi32(abef, abef_save);
        cdgh = _mm_add_epi32(cdgh, cdgh_save);
        data += 64;
    }

    tt_sha256_ni_put(state, abef, cdgh);
}

#endif

// MARK: - Dispatch

void tt_sha256_blocks_hardware(uint32_t state[8], const uint8_t *data, size_t nblocks) {
#if TT_X86
    if (tt_sha_ni_available()) {
        sha256_blocks_ni(state, data, nblocks);
        return;
    }
#endif
    tt_sha256_blocks_portable(state, data, nblocks);
}

void tt_sha256_blocks(uint32_t state[8], const uint8_t *data, size_t nblocks) {
#if TT_X86
    if (tt_sha_hardware_active()) {
        sha256_blocks_ni(state, data, nblocks);
        return;
    }
#endif
    tt_sha256_blocks_portable(state, data, nblocks);
}
