/// Modular exponentiation modulo the 768-bit MSE prime (RFC 2409 Oakley group 1), for the
/// Diffie-Hellman exchange of MSE/PE.
///
/// Montgomery arithmetic on twelve 64-bit limbs (little-endian limb order). Nothing branches or
/// indexes memory on secret data: the exponent is read in fixed 4-bit windows, the window's
/// table entry is picked by masking all sixteen, and the final subtraction is a masked select.

#include "CTTCipher.h"

#include <string.h>

#define LIMBS 12
typedef unsigned __int128 u128;

static const uint64_t P[LIMBS] = {
    0x0000000000090563ULL, 0xf44c42e9a63a3621ULL, 0xe485b576625e7ec6ULL, 0x4fe1356d6d51c245ULL,
    0x302b0a6df25f1437ULL, 0xef9519b3cd3a431bULL, 0x514a08798e3404ddULL, 0x020bbea63b139b22ULL,
    0x29024e088a67cc74ULL, 0xc4c6628b80dc1cd1ULL, 0xc90fdaa22168c234ULL, 0xffffffffffffffffULL,
};
/// R² mod P with R = 2^768, to enter Montgomery form.
static const uint64_t R2[LIMBS] = {
    0x95f0194046281a8eULL, 0xff0ca2a3d838c985ULL, 0x6d9f175993af6d83ULL, 0xd4c85168a99a751fULL,
    0x3423ecee2ddc6158ULL, 0xd515b23cd4ace6ddULL, 0x112ce56282e51749ULL, 0x3361bff33a35e04bULL,
    0xafbc083554e85ee3ULL, 0xa95d0ecbc5679266ULL, 0x8d001cb98c6f28c7ULL, 0xa6130c9d54da3d53ULL,
};
/// R mod P: 1 in Montgomery form.
static const uint64_t R1[LIMBS] = {
    0xfffffffffff6fa9dULL, 0x0bb3bd1659c5c9deULL, 0x1b7a4a899da18139ULL, 0xb01eca9292ae3dbaULL,
    0xcfd4f5920da0ebc8ULL, 0x106ae64c32c5bce4ULL, 0xaeb5f78671cbfb22ULL, 0xfdf44159c4ec64ddULL,
    0xd6fdb1f77598338bULL, 0x3b399d747f23e32eULL, 0x36f0255dde973dcbULL, 0x0000000000000000ULL,
};
/// -P⁻¹ mod 2^64.
static const uint64_t N0 = 0x6d5d6e6995075bb5ULL;

/// out = a·b·R⁻¹ mod P (CIOS). Inputs below P; output below P.
static void mont_mul(uint64_t out[LIMBS], const uint64_t a[LIMBS], const uint64_t b[LIMBS]) {
    uint64_t t[LIMBS + 2];
    memset(t, 0, sizeof t);
    for (int i = 0; i < LIMBS; i++) {
        uint64_t carry = 0;
        for (int k = 0; k < LIMBS; k++) {
            u128 v = (u128)a[k] * b[i] + t[k] + carry;
            t[k] = (uint64_t)v;
            carry = (uint64_t)(v >> 64);
        }
        u128 v = (u128)t[LIMBS] + carry;
        t[LIMBS] = (uint64_t)v;
        t[LIMBS + 1] = (uint64_t)(v >> 64);

        uint64_t m = t[0] * N0;
        v = (u128)m * P[0] + t[0];
        carry = (uint64_t)(v >> 64);
        for (int k = 1; k < LIMBS; k++) {
            v = (u128)m * P[k] + t[k] + carry;
            t[k - 1] = (uint64_t)v;
            carry = (uint64_t)(v >> 64);
        }
        v = (u128)t[LIMBS] + carry;
        t[LIMBS - 1] = (uint64_t)v;
        t[LIMBS] = t[LIMBS + 1] + (uint64_t)(v >> 64);
    }
    // t < 2P: subtract P and keep the difference unless it borrowed (masked, no branch).
    uint64_t diff[LIMBS];
    uint64_t borrow = 0;
    for (int k = 0; k < LIMBS; k++) {
        u128 v = (u128)t[k] - P[k] - borrow;
        diff[k] = (uint64_t)v;
        borrow = (uint64_t)(v >> 64) & 1;
    }
    // Keep diff when t[LIMBS] (the overflow limb) covers the borrow.
    uint64_t keep_diff = 0 - (uint64_t)((t[LIMBS] >= borrow) & 1);
    for (int k = 0; k < LIMBS; k++) out[k] = (diff[k] & keep_diff) | (t[k] & ~keep_diff);
}

static void from_bytes(uint64_t out[LIMBS], const uint8_t in[96]) {
    for (int k = 0; k < LIMBS; k++) {
        uint64_t w = 0;
        for (int b = 0; b < 8; b++) w = (w << 8) | in[(LIMBS - 1 - k) * 8 + b];
        out[k] = w;
    }
}

static void to_bytes(uint8_t out[96], const uint64_t in[LIMBS]) {
    for (int k = 0; k < LIMBS; k++) {
        uint64_t w = in[k];
        for (int b = 7; b >= 0; b--) { out[(LIMBS - 1 - k) * 8 + b] = (uint8_t)w; w >>= 8; }
    }
}

/// 1 when a < P (public input check, not secret).
static int below_prime(const uint64_t a[LIMBS]) {
    for (int k = LIMBS - 1; k >= 0; k--) {
        if (a[k] < P[k]) return 1;
        if (a[k] > P[k]) return 0;
    }
    return 0;
}

void tt_dh768_prime(uint8_t out[96]) { to_bytes(out, P); }

int tt_dh768_modexp(const uint8_t base[96], const uint8_t *exponent, size_t exponent_len, uint8_t result[96]) {
    if (exponent_len < 1 || exponent_len > 96) return -1;
    uint64_t b[LIMBS];
    from_bytes(b, base);
    if (!below_prime(b)) return -1;

    uint64_t table[16][LIMBS];
    memcpy(table[0], R1, sizeof R1);
    mont_mul(table[1], b, R2);
    for (int k = 2; k < 16; k++) mont_mul(table[k], table[k - 1], table[1]);

    uint64_t acc[LIMBS], pick[LIMBS], one[LIMBS];
    memcpy(acc, R1, sizeof R1);
    for (size_t n = 0; n < exponent_len * 2; n++) {
        uint8_t byte = exponent[n / 2];
        uint32_t window = (n % 2 == 0) ? (byte >> 4) : (byte & 0x0f);
        for (int s = 0; s < 4; s++) mont_mul(acc, acc, acc);
        memset(pick, 0, sizeof pick);
        for (uint32_t e = 0; e < 16; e++) {
            // mask = all ones when e == window, computed without a comparison branch.
            uint64_t diff = (uint64_t)(e ^ window);
            uint64_t mask = ((diff | (0 - diff)) >> 63) - 1;
            for (int k = 0; k < LIMBS; k++) pick[k] |= table[e][k] & mask;
        }
        mont_mul(acc, acc, pick);
    }
    memset(one, 0, sizeof one);
    one[0] = 1;
    mont_mul(acc, acc, one);  // leave Montgomery form
    to_bytes(result, acc);
    // Scrub what the exponent touched.
    volatile uint8_t *wipe = (volatile uint8_t *)table;
    for (size_t k = 0; k < sizeof table; k++) wipe[k] = 0;
    return 0;
}
