import Testing

@testable import Hashing

// `Interleaved` must give exactly the digests of plain `update` calls, whatever the lengths (whole
// blocks, tails, unequal inputs) and whatever the hashers already hold (a partial block turns the
// fast path off for that call).

private let lengths = [0, 1, 63, 64, 65, 127, 128, 1000, 16_384, 16_384 + 13, 65_536 + 64, 1 << 20]

private func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return UInt8(truncatingIfNeeded: state >> 56)
    }
}

private func plainSHA1(_ prefix: [UInt8], _ message: [UInt8]) -> [UInt8] {
    var hasher = SHA1()
    hasher.update(prefix)
    hasher.update(message)
    return hasher.finalize()
}

private func plainSHA256(_ prefix: [UInt8], _ message: [UInt8]) -> [UInt8] {
    var hasher = SHA256()
    hasher.update(prefix)
    hasher.update(message)
    return hasher.finalize()
}

/// Hashers already fed `prefix` (empty: block-aligned; 5 bytes: a partial block held).
private func fed<H>(_ make: () -> H, _ prefix: [UInt8], _ update: (inout H, [UInt8]) -> Void) -> H {
    var hasher = make()
    update(&hasher, prefix)
    return hasher
}

@Test(arguments: lengths)
func twoSHA1ChainsMatchPlainUpdates(length: Int) {
    for (prefix, otherLength) in [([UInt8](), length), ([1, 2, 3, 4, 5], length), ([], length / 2 + 64), ([], length + 200)] {
        let x = bytes(length, seed: 1), y = bytes(otherLength, seed: 2)
        var a = fed(SHA1.init, prefix) { $0.update($1) }
        var b = fed(SHA1.init, []) { $0.update($1) }
        x.withUnsafeBytes { x in y.withUnsafeBytes { y in Interleaved.update(&a, x, &b, y) } }
        #expect(a.finalize() == plainSHA1(prefix, x), "x: \(length) after \(prefix.count)")
        #expect(b.finalize() == plainSHA1([], y), "y: \(otherLength)")
    }
}

@Test(arguments: lengths)
func twoSHA256ChainsMatchPlainUpdates(length: Int) {
    for (prefix, otherLength) in [([UInt8](), length), ([9, 9], length), ([], length / 3), ([], length + 64)] {
        let x = bytes(length, seed: 3), y = bytes(otherLength, seed: 4)
        var a = fed(SHA256.init, prefix) { $0.update($1) }
        var b = fed(SHA256.init, []) { $0.update($1) }
        x.withUnsafeBytes { x in y.withUnsafeBytes { y in Interleaved.update(&a, x, &b, y) } }
        #expect(a.finalize() == plainSHA256(prefix, x), "x: \(length) after \(prefix.count)")
        #expect(b.finalize() == plainSHA256([], y), "y: \(otherLength)")
    }
}

@Test(arguments: lengths)
func sha1AndSHA256OfTheSameBytesMatchPlainUpdates(length: Int) {
    for prefix in [[UInt8](), [7]] {
        let x = bytes(length, seed: 5)
        var sha1 = fed(SHA1.init, prefix) { $0.update($1) }
        var sha256 = SHA256()
        x.withUnsafeBytes { Interleaved.update(&sha1, &sha256, $0) }
        #expect(sha1.finalize() == plainSHA1(prefix, x), "length \(length) after \(prefix.count)")
        #expect(sha256.finalize() == plainSHA256([], x), "length \(length)")
    }
}

@Test(arguments: lengths)
func fourChainsMatchPlainUpdates(length: Int) {
    for otherLength in [length, length / 2, length + 128] {
        let x = bytes(length, seed: 6), y = bytes(otherLength, seed: 7)
        var sha1A = SHA1(), sha1B = SHA1(), sha256A = SHA256(), sha256B = SHA256()
        x.withUnsafeBytes { x in y.withUnsafeBytes { y in Interleaved.update(&sha1A, &sha256A, x, &sha1B, &sha256B, y) } }
        #expect(sha1A.finalize() == plainSHA1([], x))
        #expect(sha256A.finalize() == plainSHA256([], x))
        #expect(sha1B.finalize() == plainSHA1([], y), "\(length) beside \(otherLength)")
        #expect(sha256B.finalize() == plainSHA256([], y), "\(length) beside \(otherLength)")
    }
}

@Test func aHasherPinnedToABackendStaysOnIt() {
    // Tests pin hashers to compare paths; the interleaved kernels must not silently take one over.
    let x = bytes(4096, seed: 8)
    var pinned = SHA1(backend: .portable), free = SHA1()
    x.withUnsafeBytes { Interleaved.update(&pinned, $0, &free, $0) }
    #expect(pinned.core.compressor.backend == .portable)
    #expect(pinned.finalize() == plainSHA1([], x))
    #expect(free.finalize() == plainSHA1([], x))
}

// MARK: - Sixteen lanes (AVX-512 where the CPU has it, SHA-NI pairs otherwise)

/// The SHA-256 of each eighth of `x` then of `y`, one plain hash at a time.
private func eighths(_ x: [UInt8], _ y: [UInt8]) -> [UInt8] {
    let part = x.count / 8
    return (0..<16).flatMap { index -> [UInt8] in
        let source = index < 8 ? x : y
        return plainSHA256([], Array(source[(index % 8) * part..<(index % 8 + 1) * part]))
    }
}

@Test func sixteenLanesMatchPlainHashesBothWideAndNarrow() {
    // One test for both modes: forcing is process-wide, so split up the checks could race.
    defer { HashAcceleration.forceNarrow(false) }
    for narrow in [false, true] {
        HashAcceleration.forceNarrow(narrow)
        for part in [64, 128, 64 * 5, 16_384] {
            let x = bytes(8 * part, seed: UInt64(part)), y = bytes(8 * part, seed: UInt64(part) + 1)
            var digests = [UInt8](repeating: 0, count: 512)
            x.withUnsafeBytes { x in y.withUnsafeBytes { y in digests.withUnsafeMutableBytes { Interleaved.sha256(eighthsOf: x, y, into: $0.baseAddress!) } } }
            #expect(digests == eighths(x, y), "parts of \(part), narrow \(narrow)")

            // Beside two SHA-1 chains that already hold some blocks, and after a partial block (the slow path).
            for prefix in [[UInt8](repeating: 3, count: 128), [1, 2, 3]] {
                var a = SHA1(), b = SHA1()
                a.update(prefix)
                b.update([UInt8](repeating: 4, count: 64))
                var fused = [UInt8](repeating: 0, count: 512)
                x.withUnsafeBytes { x in
                    y.withUnsafeBytes { y in
                        fused.withUnsafeMutableBytes { Interleaved.update(&a, x, &b, y, sha256OfEighthsInto: $0.baseAddress!) }
                    }
                }
                #expect(fused == eighths(x, y), "fused, parts of \(part), narrow \(narrow), prefix \(prefix.count)")
                #expect(a.finalize() == plainSHA1(prefix, x))
                #expect(b.finalize() == plainSHA1([UInt8](repeating: 4, count: 64), y))
            }
        }
    }
}
