/// RC4 and 768-bit Diffie-Hellman arithmetic for MSE/PE (Message Stream Encryption).
///
/// No I/O and no allocation: callers own every buffer. The Swift `MSE` module builds the
/// handshake on top of these.
#ifndef CTTCIPHER_H
#define CTTCIPHER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// RC4 state. Entries are 32-bit: byte-sized entries cost partial-register stalls on x86.
typedef struct {
    uint32_t i;
    uint32_t j;
    uint32_t s[256];
} tt_rc4_state;

/// Key schedule (KSA). `key_len` is 1…256 bytes.
void tt_rc4_init(tt_rc4_state *state, const uint8_t *key, size_t key_len);

/// XORs `len` keystream bytes into `in`, writing `out` (may equal `in`).
void tt_rc4_xor(tt_rc4_state *state, const uint8_t *in, uint8_t *out, size_t len);

/// Advances the keystream by `len` bytes without using them (MSE drops the first 1 024).
void tt_rc4_skip(tt_rc4_state *state, size_t len);

/// Size in bytes of a DH-768 number (big-endian on the wire).
#define TT_DH768_BYTES 96

/// `result = base ^ exponent mod P` with the MSE prime P (RFC 2409 group 1).
///
/// `base` is 96 bytes big-endian and must be below P; `exponent` is `exponent_len` bytes
/// big-endian (1…96). Runs in time that depends only on `exponent_len`: fixed 4-bit windows,
/// table entries chosen by masking, Montgomery multiplication without secret branches.
/// Returns 0, or -1 when `base` ≥ P or `exponent_len` is out of range.
int tt_dh768_modexp(const uint8_t base[96], const uint8_t *exponent, size_t exponent_len, uint8_t result[96]);

/// The prime P, 96 bytes big-endian.
void tt_dh768_prime(uint8_t out[96]);

#ifdef __cplusplus
}
#endif

#endif
