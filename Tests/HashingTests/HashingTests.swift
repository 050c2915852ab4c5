import Foundation
import Testing

@testable import Hashing

// Each test runs every compression path: `.automatic` (what callers get), `.portable` (the C
// fallback) and `.hardware` (SHA-NI; identical to `.portable` on CPUs without it). Expected
// values come from published vectors, an independent plain-Swift reference at the bottom of
// this file, and coreutils' sha1sum/sha256sum.

private let backends: [HashBackend] = [.automatic, .portable, .hardware]

// MARK: - Published vectors (FIPS 180 examples / NIST CAVP)

private struct Vector: Sendable, CustomTestStringConvertible {
    let name: String
    let message: [UInt8]
    let sha1: String
    let sha256: String
    var testDescription: String { name }
}

private let vectors: [Vector] = [
    Vector(name: "empty", message: [],
           sha1: "da39a3ee5e6b4b0d3255bfef95601890afd80709",
           sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    Vector(name: "abc", message: Array("abc".utf8),
           sha1: "a9993e364706816aba3e25717850c26c9cd0d89d",
           sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    Vector(name: "448 bits", message: Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8),
           sha1: "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
           sha256: "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    Vector(name: "896 bits",
           message: Array(("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                           + "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu").utf8),
           sha1: "a49b2446a02c645bf419f995b67091253a04a259",
           sha256: "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
    Vector(name: "million a", message: [UInt8](repeating: 0x61, count: 1_000_000),
           sha1: "34aa973cd4c4daa4f61eeb2bdbad27316534016f",
           sha256: "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
]

@Test(arguments: vectors, backends)
private func publishedVectors(vector: Vector, backend: HashBackend) {
    var sha1 = SHA1(backend: backend)
    sha1.update(vector.message)
    #expect(hex(sha1.finalize()) == vector.sha1)

    var sha256 = SHA256(backend: backend)
    sha256.update(vector.message)
    #expect(hex(sha256.finalize()) == vector.sha256)
}

@Test(arguments: vectors)
private func staticHashMatchesVectors(vector: Vector) {
    #expect(hex(SHA1.hash(vector.message)) == vector.sha1)
    #expect(hex(SHA256.hash(vector.message)) == vector.sha256)
    vector.message.withUnsafeBytes { raw in
        #expect(hex(SHA1.hash(raw)) == vector.sha1)
        #expect(hex(SHA256.hash(raw)) == vector.sha256)
    }
}

@Test func digestSizesMatchOutput() {
    #expect(SHA1.digestSize == 20)
    #expect(SHA256.digestSize == 32)
    #expect(SHA1.hash([UInt8]()).count == SHA1.digestSize)
    #expect(SHA256.hash([UInt8]()).count == SHA256.digestSize)
}

// MARK: - Every length around the padding boundaries

/// Hashes `message` in one update with a pinned backend.
private func sha1(_ message: [UInt8], _ backend: HashBackend) -> [UInt8] {
    var h = SHA1(backend: backend)
    h.update(message)
    return h.finalize()
}

private func sha256(_ message: [UInt8], _ backend: HashBackend) -> [UInt8] {
    var h = SHA256(backend: backend)
    h.update(message)
    return h.finalize()
}

// 55/56 is where the length stops fitting in the final block; 63/64/65 straddle a block.
@Test(arguments: [55, 56, 63, 64, 65, 119, 120, 127, 128, 129])
func paddingBoundaryLengths(length: Int) {
    var rng = SplitMix64(seed: UInt64(length))
    let message = rng.bytes(length)
    let ref1 = ReferenceSHA1.hash(message), ref256 = ReferenceSHA256.hash(message)
    for backend in backends {
        #expect(sha1(message, backend) == ref1, "SHA-1 \(backend) length \(length)")
        #expect(sha256(message, backend) == ref256, "SHA-256 \(backend) length \(length)")
    }
}

@Test func allLengthsUpTo200AgreeAcrossPathsAndReference() {
    var rng = SplitMix64(seed: 200)
    for length in 0...200 {
        let message = rng.bytes(length)
        let hw1 = sha1(message, .hardware), sw1 = sha1(message, .portable)
        let hw256 = sha256(message, .hardware), sw256 = sha256(message, .portable)
        #expect(hw1 == sw1, "SHA-1 paths differ at length \(length)")
        #expect(hw256 == sw256, "SHA-256 paths differ at length \(length)")
        #expect(sw1 == ReferenceSHA1.hash(message), "SHA-1 vs reference at length \(length)")
        #expect(sw256 == ReferenceSHA256.hash(message), "SHA-256 vs reference at length \(length)")
    }
}

@Test func largeBufferAgreesAcrossPaths() {
    // Many blocks in one C call: exercises the multi-block loops, not just single blocks.
    var rng = SplitMix64(seed: 4242)
    let message = rng.bytes((1 << 20) + 13)
    #expect(sha1(message, .hardware) == sha1(message, .portable))
    #expect(sha256(message, .hardware) == sha256(message, .portable))
    #expect(sha1(message, .portable) == ReferenceSHA1.hash(message))
    #expect(sha256(message, .portable) == ReferenceSHA256.hash(message))
}

// MARK: - Against coreutils

@Test(arguments: [0, 1, 55, 56, 63, 64, 65, 1000, 65_536 + 7, 3 << 20])
func matchesCoreutils(length: Int) throws {
    var rng = SplitMix64(seed: 0xC0FFEE &+ UInt64(length))
    let message = rng.bytes(length)
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("tt-hashing-\(UUID().uuidString).bin")
    try Data(message).write(to: url)
    defer { try? FileManager.default.removeItem(at: url) }

    let sha1sum = try runDigestTool("sha1sum", url.path)
    let sha256sum = try runDigestTool("sha256sum", url.path)
    for backend in backends {
        #expect(hex(sha1(message, backend)) == sha1sum, "SHA-1 \(backend) length \(length)")
        #expect(hex(sha256(message, backend)) == sha256sum, "SHA-256 \(backend) length \(length)")
    }
}

/// Runs `tool path` and returns the hex digest it prints first.
private func runDigestTool(_ tool: String, _ path: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [tool, path]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    try #require(process.terminationStatus == 0, "\(tool) failed")
    let text = String(decoding: output, as: UTF8.self)
    return String(text.prefix { !$0.isWhitespace })
}

// MARK: - Streaming

@Test(arguments: backends)
func randomChunkSplitsEqualOneShot(backend: HashBackend) {
    var rng = SplitMix64(seed: 7)
    for trial in 0..<300 {
        let length = Int(rng.next() % 3000)
        let message = rng.bytes(length)
        let expected1 = sha1(message, backend), expected256 = sha256(message, backend)

        var h1 = SHA1(backend: backend), h256 = SHA256(backend: backend)
        var offset = 0
        while offset < length {
            // Mostly small pieces (to hit every buffer fill level), sometimes many blocks at once.
            let cap = rng.next() % 4 == 0 ? 700 : 70
            let size = min(Int(rng.next() % UInt64(cap + 1)), length - offset)
            let piece = message[offset..<(offset + size)]
            // Alternate the two update overloads; ArraySlice takes the contiguous fast path.
            if rng.next() % 2 == 0 {
                h1.update(piece)
                h256.update(piece)
            } else {
                piece.withUnsafeBytes { h1.update($0); h256.update($0) }
            }
            offset += size
        }
        #expect(h1.finalize() == expected1, "SHA-1 trial \(trial), length \(length)")
        #expect(h256.finalize() == expected256, "SHA-256 trial \(trial), length \(length)")
    }
}

@Test func byteAtATimeEqualsOneShot() {
    var rng = SplitMix64(seed: 11)
    let message = rng.bytes(333)
    var h1 = SHA1(), h256 = SHA256()
    for byte in message {
        h1.update(CollectionOfOne(byte))
        h256.update([byte])
    }
    #expect(h1.finalize() == SHA1.hash(message))
    #expect(h256.finalize() == SHA256.hash(message))
}

@Test func nonContiguousCollectionsEqualContiguous() {
    // A lazy map has no contiguous storage, so this takes the chunked copying path; longer
    // than its 4 KiB chunk so a full chunk and a remainder are both hashed.
    var rng = SplitMix64(seed: 99)
    let message = rng.bytes(10_001)
    let lazy = message.lazy.map { $0 }
    #expect(SHA1.hash(lazy) == SHA1.hash(message))
    #expect(SHA256.hash(lazy) == SHA256.hash(message))

    var h = SHA1()
    h.update(message[..<5])
    h.update((0..<4096).lazy.map { message[5 + $0] })
    h.update(message[4101...])
    #expect(h.finalize() == SHA1.hash(message))
}

@Test func copyingAHasherForksTheMessage() {
    var prefix = SHA256()
    prefix.update(Array("common prefix, longer than one block so state has moved: ".utf8) + [UInt8](repeating: 7, count: 70))
    var left = prefix, right = prefix
    left.update(Array("left".utf8))
    right.update(Array("right".utf8))
    let expectedLeft = SHA256.hash(Array("common prefix, longer than one block so state has moved: ".utf8)
                                   + [UInt8](repeating: 7, count: 70) + Array("left".utf8))
    #expect(left.finalize() == expectedLeft)
    #expect(right.finalize() != expectedLeft)
}

// MARK: - Hardware selection

@Test func hardwareDetectionMatchesCPUAndCanBeForcedOff() throws {
    // One test, not two, because forcing is process-wide: split up, the checks could race.
    #if os(Linux) && (arch(x86_64) || arch(i386))
    let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
    let flags = cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") } ?? ""
    let cpuHasSHA = flags.split(separator: " ").contains("sha_ni")
    #expect(HashAcceleration.cpuHasSHAExtensions == cpuHasSHA)
    #endif
    #expect(HashAcceleration.isHardwareAccelerated == HashAcceleration.cpuHasSHAExtensions)

    HashAcceleration.forcePortable(true)
    defer { HashAcceleration.forcePortable(false) }
    #expect(!HashAcceleration.isHardwareAccelerated)
    #expect(hex(SHA1.hash(Array("abc".utf8))) == "a9993e364706816aba3e25717850c26c9cd0d89d")
    // The interleaved kernels' portable path (the chains one after the other) gives the same digests.
    var rng = SplitMix64(seed: 99)
    let x = rng.bytes(4096 + 7), y = rng.bytes(4096)
    var sha1X = SHA1(), sha1Y = SHA1(), sha256X = SHA256(), sha256Y = SHA256()
    x.withUnsafeBytes { x in y.withUnsafeBytes { y in Interleaved.update(&sha1X, &sha256X, x, &sha1Y, &sha256Y, y) } }
    #expect(sha1X.finalize() == ReferenceSHA1.hash(x) && sha1Y.finalize() == ReferenceSHA1.hash(y))
    #expect(sha256X.finalize() == ReferenceSHA256.hash(x) && sha256Y.finalize() == ReferenceSHA256.hash(y))

    HashAcceleration.forcePortable(false)
    #expect(HashAcceleration.isHardwareAccelerated == HashAcceleration.cpuHasSHAExtensions)
}

// MARK: - Helpers

private func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

/// Deterministic generator so a failure reproduces.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }
    }
}

/// Textbook FIPS 180-4 padding: the message, 0x80, zeros, and the 64-bit big-endian bit length.
private func padded(_ message: [UInt8]) -> [UInt8] {
    var m = message
    m.append(0x80)
    while m.count % 64 != 56 { m.append(0) }
    let bits = UInt64(message.count) * 8
    for shift in stride(from: 56, through: 0, by: -8) { m.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
    return m
}

private func word(_ m: [UInt8], _ i: Int) -> UInt32 {
    UInt32(m[i]) << 24 | UInt32(m[i + 1]) << 16 | UInt32(m[i + 2]) << 8 | UInt32(m[i + 3])
}

private func bigEndian(_ words: [UInt32]) -> [UInt8] {
    words.flatMap { w in [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: w >> UInt32($0)) } }
}

/// Plain-Swift SHA-1 written straight from the standard, sharing no code with the module.
private enum ReferenceSHA1 {
    static func hash(_ message: [UInt8]) -> [UInt8] {
        func rotl(_ x: UInt32, _ n: UInt32) -> UInt32 { x << n | x >> (32 - n) }
        var h: [UInt32] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0]
        let m = padded(message)
        for block in stride(from: 0, to: m.count, by: 64) {
            var w = (0..<16).map { word(m, block + 4 * $0) }
            for t in 16..<80 { w.append(rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1)) }
            var (a, b, c, d, e) = (h[0], h[1], h[2], h[3], h[4])
            for t in 0..<80 {
                let f: UInt32, k: UInt32
                switch t {
                case 0..<20: (f, k) = ((b & c) | (~b & d), 0x5A82_7999)
                case 20..<40: (f, k) = (b ^ c ^ d, 0x6ED9_EBA1)
                case 40..<60: (f, k) = ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC)
                default: (f, k) = (b ^ c ^ d, 0xCA62_C1D6)
                }
                let temp = rotl(a, 5) &+ f &+ e &+ k &+ w[t]
                (e, d, c, b, a) = (d, c, rotl(b, 30), a, temp)
            }
            for (i, v) in [a, b, c, d, e].enumerated() { h[i] &+= v }
        }
        return bigEndian(h)
    }
}

/// Plain-Swift SHA-256 written straight from the standard, sharing no code with the module.
private enum ReferenceSHA256 {
    static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    static func hash(_ message: [UInt8]) -> [UInt8] {
        func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { x >> n | x << (32 - n) }
        var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
        let m = padded(message)
        for block in stride(from: 0, to: m.count, by: 64) {
            var w = (0..<16).map { word(m, block + 4 * $0) }
            for t in 16..<64 {
                let s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3)
                let s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10)
                w.append(w[t - 16] &+ s0 &+ w[t - 7] &+ s1)
            }
            var (a, b, c, d, e, f, g, hh) = (h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7])
            for t in 0..<64 {
                let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
                let ch = (e & f) ^ (~e & g)
                let t1 = hh &+ s1 &+ ch &+ k[t] &+ w[t]
                let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
                let maj = (a & b) ^ (a & c) ^ (b & c)
                let t2 = s0 &+ maj
                (hh, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ t2)
            }
            for (i, v) in [a, b, c, d, e, f, g, hh].enumerated() { h[i] &+= v }
        }
        return bigEndian(h)
    }
}
