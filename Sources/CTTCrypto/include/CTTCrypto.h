/// Block compression functions for SHA-1 and SHA-256, with SHA-NI acceleration on x86.
///
/// These are the raw FIPS 180-4 compression functions: they hash whole 64-byte blocks
/// into a caller-owned chaining state and do no padding or buffering (the Swift `Hashing`
/// module does that). State words are native-endian integers; message bytes are read
/// big-endian as the standard requires. `data` needs no particular alignment.
#ifndef CTTCRYPTO_H
#define CTTCRYPTO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Hashes `nblocks` 64-byte blocks into a SHA-1 state, using SHA-NI when the CPU has it.
///
/// Honours `tt_sha_force_portable`.
void tt_sha1_blocks(uint32_t state[5], const uint8_t *data, size_t nblocks);

/// Hashes `nblocks` 64-byte blocks into a SHA-1 state with the portable C code.
void tt_sha1_blocks_portable(uint32_t state[5], const uint8_t *data, size_t nblocks);

/// Hashes `nblocks` 64-byte blocks into a SHA-1 state with SHA-NI if the CPU has it.
///
/// Ignores `tt_sha_force_portable`, so tests can compare both paths side by side; safe
/// on any CPU because it falls back to the portable code when SHA-NI is missing.
void tt_sha1_blocks_hardware(uint32_t state[5], const uint8_t *data, size_t nblocks);

/// Hashes `nblocks` 64-byte blocks into a SHA-256 state, using SHA-NI when the CPU has it.
///
/// Honours `tt_sha_force_portable`.
void tt_sha256_blocks(uint32_t state[8], const uint8_t *data, size_t nblocks);

/// Hashes `nblocks` 64-byte blocks into a SHA-256 state with the portable C code.
void tt_sha256_blocks_portable(uint32_t state[8], const uint8_t *data, size_t nblocks);

/// Hashes `nblocks` 64-byte blocks into a SHA-256 state with SHA-NI if the CPU has it.
///
/// Same contract as `tt_sha1_blocks_hardware`.
void tt_sha256_blocks_hardware(uint32_t state[8], const uint8_t *data, size_t nblocks);

/// Hashes `nblocks` blocks of `a` into SHA-1 state `sa` and as many of `b` into `sb`, the two
/// chains interleaved (SHA-NI is latency-bound: two chains nearly double the throughput).
///
/// Honours `tt_sha_force_portable` (then the chains run one after the other).
void tt_sha1_blocks_x2(uint32_t sa[5], const uint8_t *a, uint32_t sb[5], const uint8_t *b, size_t nblocks);

/// Two SHA-256 chains, as `tt_sha1_blocks_x2`.
void tt_sha256_blocks_x2(uint32_t sa[8], const uint8_t *a, uint32_t sb[8], const uint8_t *b, size_t nblocks);

/// Hashes the same `nblocks` blocks into a SHA-1 state and a SHA-256 state in one pass.
///
/// Honours `tt_sha_force_portable`.
void tt_sha1_sha256_blocks(uint32_t s1[5], uint32_t s2[8], const uint8_t *data, size_t nblocks);

/// `tt_sha1_sha256_blocks` over `a` and over `b`, the four chains interleaved.
void tt_sha1_sha256_blocks_x2(uint32_t s1a[5], uint32_t s2a[8], const uint8_t *a,
                              uint32_t s1b[5], uint32_t s2b[8], const uint8_t *b, size_t nblocks);

/// The SHA-256 of each of 16 messages of `part_blocks` whole blocks: eight parts laid end to end at
/// `a`, eight at `b` (BEP 52 leaves). Digest i (a's first) goes to `digests + 32 i`, padding included.
///
/// Runs the 16 messages in the lanes of AVX-512 registers when the CPU has AVX-512 F and BW, else as
/// SHA-NI pairs. Honours `tt_sha_force_portable` and `tt_sha_force_narrow`.
void tt_sha256_parts_x16(const uint8_t *a, const uint8_t *b, size_t part_blocks, uint8_t digests[512]);

/// `tt_sha1_blocks_x2(sa, a, sb, b, 8 * part_blocks)` and `tt_sha256_parts_x16(a, b, part_blocks,
/// digests)` in one pass: SHA-NI for the SHA-1 chains beside AVX-512 for the SHA-256 lanes.
void tt_sha1x2_sha256_parts_x16(uint32_t sa[5], const uint8_t *a, uint32_t sb[5], const uint8_t *b,
                                size_t part_blocks, uint8_t digests[512]);

/// Returns 1 if the CPU has AVX-512 F and BW and the OS saves the 512-bit state, else 0 (cached).
int tt_sha_wide_available(void);

/// Makes the `_x16` functions use SHA-NI pairs (`force != 0`) or AVX-512 when available (`force == 0`).
///
/// Process-wide and thread-safe; meant for tests and benchmarks.
void tt_sha_force_narrow(int force);

/// Returns 1 if the CPU supports the SHA extensions (and the SSE levels they need), else 0.
///
/// Always 0 on non-x86 builds. The CPUID probe runs once and is cached, because CPUID
/// traps to the hypervisor on virtual machines and costs microseconds.
int tt_sha_ni_available(void);

/// Returns 1 if `tt_sha1_blocks` / `tt_sha256_blocks` currently use SHA-NI, else 0.
///
/// That is `tt_sha_ni_available()` unless the portable path has been forced.
int tt_sha_hardware_active(void);

/// Makes `tt_sha1_blocks` / `tt_sha256_blocks` use the portable code (`force != 0`) or
/// go back to automatic selection (`force == 0`).
///
/// Process-wide and thread-safe; meant for tests and benchmarks.
void tt_sha_force_portable(int force);

#ifdef __cplusplus
}
#endif

#endif
