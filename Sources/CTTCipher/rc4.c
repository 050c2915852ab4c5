/// RC4 (the cipher MSE/PE uses). The keystream loop makes eight bytes at a time and XORs them
/// as one 64-bit word: the state lives in 32-bit cells and the compiler keeps i and j in
/// registers, which is what lets plain C keep up with OpenSSL's assembly.

#include "CTTCipher.h"

#include <string.h>

void tt_rc4_init(tt_rc4_state *state, const uint8_t *key, size_t key_len) {
    uint32_t *s = state->s;
    for (uint32_t k = 0; k < 256; k++) s[k] = k;
    uint32_t j = 0;
    size_t at = 0;
    for (uint32_t k = 0; k < 256; k++) {
        uint32_t t = s[k];
        j = (j + t + key[at]) & 0xff;
        s[k] = s[j];
        s[j] = t;
        if (++at == key_len) at = 0;
    }
    state->i = 0;
    state->j = 0;
}

#define RC4_STEP(out_byte)                         \
    do {                                           \
        i = (i + 1) & 0xff;                        \
        uint32_t ti = s[i];                        \
        j = (j + ti) & 0xff;                       \
        uint32_t tj = s[j];                        \
        s[i] = tj;                                 \
        s[j] = ti;                                 \
        out_byte = s[(ti + tj) & 0xff];            \
    } while (0)

void tt_rc4_xor(tt_rc4_state *state, const uint8_t *in, uint8_t *out, size_t len) {
    uint32_t *s = state->s;
    uint32_t i = state->i, j = state->j;
    while (len >= 8) {
        uint64_t k0, k1, k2, k3, k4, k5, k6, k7;
        RC4_STEP(k0); RC4_STEP(k1); RC4_STEP(k2); RC4_STEP(k3);
        RC4_STEP(k4); RC4_STEP(k5); RC4_STEP(k6); RC4_STEP(k7);
        uint64_t key = k0 | (k1 << 8) | (k2 << 16) | (k3 << 24) | (k4 << 32) | (k5 << 40) | (k6 << 48) | (k7 << 56);
        uint64_t word;
        memcpy(&word, in, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        key = __builtin_bswap64(key);
#endif
        word ^= key;  // k0 lands on the first byte
        memcpy(out, &word, 8);
        in += 8;
        out += 8;
        len -= 8;
    }
    while (len > 0) {
        uint32_t k;
        RC4_STEP(k);
        *out++ = *in++ ^ (uint8_t)k;
        len--;
    }
    state->i = i;
    state->j = j;
}

void tt_rc4_skip(tt_rc4_state *state, size_t len) {
    uint32_t *s = state->s;
    uint32_t i = state->i, j = state->j;
    while (len-- > 0) {
        uint32_t k;
        RC4_STEP(k);
        (void)k;
    }
    state->i = i;
    state->j = j;
}
