import CTTCipher
import Testing
@testable import MSE

func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace })
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

func hexString(_ bytes: [UInt8]) -> String { bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }


@Suite struct RC4Tests {
    /// RFC 6229 section 2, 40-bit key 0x0102030405: keystream at the listed offsets.
    static let rfc6229Key40: [(Int, String)] = [
        (0x0000, "b2396305f03dc027ccc3524a0a1118a8"), (0x0010, "6982944f18fc82d589c403a47a0d0919"),
        (0x00f0, "28cb1132c96ce286421dcaadb8b69eae"), (0x0100, "1cfcf62b03eddb641d77dfcf7f8d8c93"),
        (0x01f0, "42b7d0cdd918a8a33dd51781c81f4041"), (0x0200, "6459844432a7da923cfb3eb4980661f6"),
        (0x02f0, "ec10327bde2beefd18f9277680457e22"), (0x0300, "eb62638d4f0ba1fe9fca20e05bf8ff2b"),
        (0x03f0, "45129048e6a0ed0b56b490338f078da5"), (0x0400, "30abbcc7c20b01609f23ee2d5f6bb7df"),
        (0x05f0, "3294f744d8f9790507e70f62e5bbceea"), (0x0600, "d8729db41882259bee4f825325f5a130"),
        (0x07f0, "1eb14a0c13b3bf47fa2a0ba93ad45b8b"), (0x0800, "cc582f8ba9f265e2b1be9112e975d2d7"),
        (0x0bf0, "f2e30f9bd102ecbf75aaade9bc35c43c"), (0x0c00, "ec0e11c479dc329dc8da7968fe965681"),
        (0x0ff0, "068326a2118416d21f9d04b2cd1ca050"), (0x1000, "ff25b58995996707e51fbdf08b34d875"),
    ]

    @Test func rfc6229KeystreamForA40BitKey() {
        let stream = RC4(key: [1, 2, 3, 4, 5]).process([UInt8](repeating: 0, count: 0x1010))
        for (offset, expected) in Self.rfc6229Key40 {
            #expect(hexString(Array(stream[offset..<offset + 16])) == expected, "offset \(offset)")
        }
    }

    /// The first 1 024 bytes dropped, as MSE does: the stream starts at RFC offset 0x400.
    @Test func discardSkipsTheFirst1024Bytes() {
        let stream = RC4(key: [1, 2, 3, 4, 5], discard: 1024).process([UInt8](repeating: 0, count: 16))
        #expect(hexString(stream) == "30abbcc7c20b01609f23ee2d5f6bb7df")
    }

    /// Any chunking gives the same stream (the 8-byte fast path and the tail agree).
    @Test func chunkingDoesNotChangeTheStream() {
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 * 7 + 3) }
        let whole = RC4(key: Array("Key".utf8)).process(data)
        for chunk in [1, 3, 7, 8, 9, 64, 999] {
            let cipher = RC4(key: Array("Key".utf8))
            var out: [UInt8] = []
            var at = 0
            while at < data.count {
                let end = min(at + chunk, data.count)
                out += cipher.process(data[at..<end])
                at = end
            }
            #expect(out == whole, "chunk \(chunk)")
        }
        // The classic "Key"/"Plaintext" vector.
        #expect(hexString(RC4(key: Array("Key".utf8)).process(Array("Plaintext".utf8))) == "bbf316e8d940af0ad3")
    }

    @Test func decryptingUndoesEncrypting() {
        let data = (0..<4097).map { UInt8(truncatingIfNeeded: $0) }
        let secret = RC4(key: Array(0..<20), discard: 1024).process(data)
        #expect(secret != data)
        #expect(RC4(key: Array(0..<20), discard: 1024).process(secret) == data)
    }
}

@Suite struct DiffieHellmanTests {
    // Computed independently with Python's pow(2, x, P) and pow(Yb, xa, P).
    static let privateA = hex(String(repeating: "a1", count: 20))
    static let privateB = hex("0123456789abcdef0123456789abcdef01234567")
    static let publicA = hex("""
        9ca3be10af67261f185b97df8534d9ee7a9e97d55fde2ba825230e138fc256e31be61a9cc8d5e580ac8c2f918360f1e3
        b16aec77dc7a4b7954ce54e5f13690afb4de5c7518d7eef602ab9da0d5c9fe37aedacdcd0d6fa3fbb1870007ef728a27
        """)
    static let publicB = hex("""
        6fd4bc7aa649593205ec30348a3ccc737b61fa01e9e1762c2c53eb69033afecbdf7c13b8ac3643af78d0760b0f42db00
        9f2b96c970f009d060faf617f117d0f1c221cea0561b9a86e852fc70a6f09ad0f82378603aa5e56b811deb3f534bf276
        """)
    static let shared = hex("""
        9d73fec778d9931dbddce0b9073a0c5fcb925e65e233e94cc8c7a056dc07612a353f157a5cb14134dcaf4661fe52d883
        d56b54e2c87055fcf3a26c10d3bd80b98f8e74aa664346201c072378504103aba035c99e97a219a12ef4ac05e98d3f9f
        """)

    @Test func fixedKeysGiveKnownPublicKeysAndSecret() {
        let a = DHKeyPair(privateKey: Self.privateA)
        let b = DHKeyPair(privateKey: Self.privateB)
        #expect(a.publicKey == Self.publicA)
        #expect(b.publicKey == Self.publicB)
        #expect(a.sharedSecret(with: b.publicKey) == Self.shared)
        #expect(b.sharedSecret(with: a.publicKey) == Self.shared)
    }

    /// A full-width exponent: 2^(P-2) mod P = 2⁻¹ mod P = (P+1)/2.
    @Test func fullWidthExponent() {
        var exponent = DiffieHellman.prime
        exponent[95] -= 2
        let result = DiffieHellman.modexp(DiffieHellman.generator, exponent)
        #expect(result.map(hexString) == "7fffffffffffffffe487ed5110b4611a62633145c06e0e68948127044533e63a0105df531d89cd9128a5043cc71a026ef7ca8cd9e69d218d98158536f92f8a1ba7f09ab6b6a8e122f242dabb312f3f637a262174d31d1b1080000000000482b2")
    }

    @Test func randomPairsAgree() {
        for _ in 0..<5 {
            let a = DHKeyPair.generate(), b = DHKeyPair.generate()
            #expect(a.sharedSecret(with: b.publicKey) == b.sharedSecret(with: a.publicKey))
            #expect(a.publicKey != b.publicKey)
        }
    }

    @Test func unusablePublicKeysAreRefused() {
        let pair = DHKeyPair.generate()
        var one = [UInt8](repeating: 0, count: 96)
        one[95] = 1
        var minusOne = DiffieHellman.prime
        minusOne[95] -= 1
        for bad in [[UInt8](repeating: 0, count: 96), one, minusOne, DiffieHellman.prime,
                    [UInt8](repeating: 0xff, count: 96), [UInt8](repeating: 7, count: 95)] {
            #expect(pair.sharedSecret(with: bad) == nil)
        }
    }
}
