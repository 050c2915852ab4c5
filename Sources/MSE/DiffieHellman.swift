import CTTCipher
import Glibc

/// Diffie-Hellman over the 768-bit MSE prime with generator 2 (the spec's P and G).
public enum DiffieHellman {
    /// Public keys and the shared secret are this many bytes, big-endian, zero-padded on the left.
    public static let keySize = 96
    /// Private keys are 160 random bits: the spec asks for at least 128, and more than 180 adds nothing.
    public static let privateKeySize = 20

    /// The prime P, big-endian.
    public static let prime: [UInt8] = {
        var bytes = [UInt8](repeating: 0, count: keySize)
        tt_dh768_prime(&bytes)
        return bytes
    }()

    static let generator: [UInt8] = [UInt8](repeating: 0, count: keySize - 1) + [2]

    /// `base ^ exponent mod P`; nil when `base` is not below P.
    static func modexp(_ base: [UInt8], _ exponent: [UInt8]) -> [UInt8]? {
        precondition(base.count == keySize && (1...keySize).contains(exponent.count))
        var result = [UInt8](repeating: 0, count: keySize)
        let status = tt_dh768_modexp(base, exponent, exponent.count, &result)
        return status == 0 ? result : nil
    }

    /// True for a public key that is a number in 2…P−2 (1 and P−1 would fix the secret).
    public static func isValidPublicKey(_ key: [UInt8]) -> Bool {
        guard key.count == keySize else { return false }
        var one = [UInt8](repeating: 0, count: keySize)
        one[keySize - 1] = 1
        guard lexicographicallyLess(one, key) else { return false }
        var primeMinusOne = prime
        primeMinusOne[keySize - 1] -= 1  // P ends in 0x63: no borrow
        return lexicographicallyLess(key, primeMinusOne)
    }

    private static func lexicographicallyLess(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.lexicographicallyPrecedes(b)
    }
}

/// One side's DH key pair. The private key never leaves this value.
public struct DHKeyPair: Sendable {
    let privateKey: [UInt8]
    /// `G ^ private mod P`, 96 bytes big-endian: what goes on the wire as Ya or Yb.
    public let publicKey: [UInt8]

    /// A fresh random key pair.
    public static func generate() -> DHKeyPair {
        var generator = SystemRandomNumberGenerator()
        var key = (0..<DiffieHellman.privateKeySize).map { _ in UInt8.random(in: 0...255, using: &generator) }
        key[0] |= 0x80  // full 160 bits, so every key costs the same time
        return DHKeyPair(privateKey: key)
    }

    /// A key pair from a given private key (known-answer tests, reproducible traces).
    public init(privateKey: [UInt8]) {
        precondition((1...DiffieHellman.keySize).contains(privateKey.count), "private key is 1…96 bytes")
        self.privateKey = privateKey
        self.publicKey = DiffieHellman.modexp(DiffieHellman.generator, privateKey)!
    }

    /// The shared secret S = peer ^ private mod P, or nil when the peer's key is unusable.
    public func sharedSecret(with peerPublicKey: [UInt8]) -> [UInt8]? {
        guard DiffieHellman.isValidPublicKey(peerPublicKey) else { return nil }
        return DiffieHellman.modexp(peerPublicKey, privateKey)
    }
}
