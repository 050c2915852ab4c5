import CTTCrypto

/// Several hashes advanced in one pass, for callers that hash many independent messages (pieces,
/// 16 KiB merkle leaves) or one message two ways (SHA-1 and SHA-256 of a hybrid torrent's piece).
///
/// A single SHA-NI chain is latency-bound: each round instruction waits on the one before, and the
/// SHA unit idles meanwhile. Two chains interleaved fill those gaps (on the bench machine, one core:
/// SHA-1 1.8 → 3.2 GB/s, SHA-256 1.7 → 2.4 GB/s, SHA-1 + SHA-256 of the same bytes 0.9 → 1.8 GB/s).
/// Every function gives exactly the digests of the plain `update` calls it replaces; the fast path
/// covers the whole blocks at the start of both inputs when neither hasher holds a partial block,
/// the rest goes through `update`.
public enum Interleaved {
    /// `a.update(x); b.update(y)`.
    public static func update(_ a: inout SHA1, _ x: UnsafeRawBufferPointer, _ b: inout SHA1, _ y: UnsafeRawBufferPointer) {
        let blocks = jointBlocks(x, y, a.core.isBlockAligned && b.core.isBlockAligned,
                                 a.core.compressor.backend, b.core.compressor.backend)
        if blocks > 0 {
            a.core.compressor.withWords { sa in
                b.core.compressor.withWords { sb in tt_sha1_blocks_x2(sa, bytes(x), sb, bytes(y), blocks) }
            }
            a.core.countCompressed(blocks * 64)
            b.core.countCompressed(blocks * 64)
        }
        a.update(rest(x, blocks))
        b.update(rest(y, blocks))
    }

    /// `a.update(x); b.update(y)`.
    public static func update(_ a: inout SHA256, _ x: UnsafeRawBufferPointer, _ b: inout SHA256, _ y: UnsafeRawBufferPointer) {
        let blocks = jointBlocks(x, y, a.core.isBlockAligned && b.core.isBlockAligned,
                                 a.core.compressor.backend, b.core.compressor.backend)
        if blocks > 0 {
            a.core.compressor.withWords { sa in
                b.core.compressor.withWords { sb in tt_sha256_blocks_x2(sa, bytes(x), sb, bytes(y), blocks) }
            }
            a.core.countCompressed(blocks * 64)
            b.core.countCompressed(blocks * 64)
        }
        a.update(rest(x, blocks))
        b.update(rest(y, blocks))
    }

    /// `sha1.update(x); sha256.update(x)`, reading `x` once.
    public static func update(_ sha1: inout SHA1, _ sha256: inout SHA256, _ x: UnsafeRawBufferPointer) {
        let blocks = jointBlocks(x, x, sha1.core.isBlockAligned && sha256.core.isBlockAligned,
                                 sha1.core.compressor.backend, sha256.core.compressor.backend)
        if blocks > 0 {
            sha1.core.compressor.withWords { s1 in
                sha256.core.compressor.withWords { s2 in tt_sha1_sha256_blocks(s1, s2, bytes(x), blocks) }
            }
            sha1.core.countCompressed(blocks * 64)
            sha256.core.countCompressed(blocks * 64)
        }
        sha1.update(rest(x, blocks))
        sha256.update(rest(x, blocks))
    }

    /// `update(&sha1A, &sha256A, x); update(&sha1B, &sha256B, y)`, the four chains interleaved.
    public static func update(_ sha1A: inout SHA1, _ sha256A: inout SHA256, _ x: UnsafeRawBufferPointer,
                              _ sha1B: inout SHA1, _ sha256B: inout SHA256, _ y: UnsafeRawBufferPointer) {
        let blocks = min(jointBlocks(x, y, sha1A.core.isBlockAligned && sha256A.core.isBlockAligned,
                                     sha1A.core.compressor.backend, sha256A.core.compressor.backend),
                         jointBlocks(x, y, sha1B.core.isBlockAligned && sha256B.core.isBlockAligned,
                                     sha1B.core.compressor.backend, sha256B.core.compressor.backend))
        if blocks > 0 {
            sha1A.core.compressor.withWords { s1a in
                sha256A.core.compressor.withWords { s2a in
                    sha1B.core.compressor.withWords { s1b in
                        sha256B.core.compressor.withWords { s2b in
                            tt_sha1_sha256_blocks_x2(s1a, s2a, bytes(x), s1b, s2b, bytes(y), blocks)
                        }
                    }
                }
            }
            sha1A.core.countCompressed(blocks * 64)
            sha256A.core.countCompressed(blocks * 64)
            sha1B.core.countCompressed(blocks * 64)
            sha256B.core.countCompressed(blocks * 64)
        }
        update(&sha1A, &sha256A, rest(x, blocks))
        update(&sha1B, &sha256B, rest(y, blocks))
    }

    /// Whole blocks both inputs have, or 0 when a hasher holds a partial block or is pinned to a backend
    /// (tests pin one to compare paths; the interleaved kernels only follow `tt_sha_force_portable`).
    private static func jointBlocks(_ x: UnsafeRawBufferPointer, _ y: UnsafeRawBufferPointer, _ aligned: Bool,
                                    _ first: HashBackend, _ second: HashBackend) -> Int {
        guard aligned, first == .automatic, second == .automatic else { return 0 }
        return min(x.count, y.count) / 64
    }

    private static func bytes(_ buffer: UnsafeRawBufferPointer) -> UnsafePointer<UInt8> {
        buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
    }

    private static func rest(_ buffer: UnsafeRawBufferPointer, _ blocks: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: buffer[(blocks * 64)...])
    }
}

extension Interleaved {
    /// The SHA-256 of each of the sixteen equal parts of `x` and `y`, eight each (BEP 52's 16 KiB leaves):
    /// digest i, x's parts first, into `digests + 32 i`. `x` and `y` are the same length, a non-zero
    /// multiple of 512 bytes. Sixteen messages fill the lanes of AVX-512 registers where the CPU has them.
    public static func sha256(eighthsOf x: UnsafeRawBufferPointer, _ y: UnsafeRawBufferPointer, into digests: UnsafeMutableRawPointer) {
        precondition(x.count == y.count && x.count > 0 && x.count % 512 == 0, "sixteen equal parts of whole blocks")
        tt_sha256_parts_x16(bytes(x), bytes(y), x.count / 512, digests.assumingMemoryBound(to: UInt8.self))
    }

    /// `a.update(x); b.update(y); sha256(eighthsOf: x, y, into: digests)` in one pass over the bytes: the
    /// SHA-1 chains on the SHA unit while the SHA-256 lanes run on the vector units.
    public static func update(_ a: inout SHA1, _ x: UnsafeRawBufferPointer, _ b: inout SHA1, _ y: UnsafeRawBufferPointer,
                              sha256OfEighthsInto digests: UnsafeMutableRawPointer) {
        precondition(x.count == y.count && x.count > 0 && x.count % 512 == 0, "sixteen equal parts of whole blocks")
        guard jointBlocks(x, y, a.core.isBlockAligned && b.core.isBlockAligned, a.core.compressor.backend, b.core.compressor.backend) > 0 else {
            update(&a, x, &b, y)
            sha256(eighthsOf: x, y, into: digests)
            return
        }
        a.core.compressor.withWords { sa in
            b.core.compressor.withWords { sb in
                tt_sha1x2_sha256_parts_x16(sa, bytes(x), sb, bytes(y), x.count / 512, digests.assumingMemoryBound(to: UInt8.self))
            }
        }
        a.core.countCompressed(x.count)
        b.core.countCompressed(y.count)
    }
}
