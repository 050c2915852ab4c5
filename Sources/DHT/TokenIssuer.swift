import Hashing

/// Write tokens for `announce_peer` (BEP 5): SHA-1 of a secret and the asker's IP, so a token
/// handed to one address is useless from another. The secret rotates every 5 minutes and the
/// previous one is still accepted, so a token lives 5 to 10 minutes.
public struct TokenIssuer: Sendable {
    public static let rotation: Double = 5 * 60
    public static let tokenLength = 8
    private var current: [UInt8]
    private var previous: [UInt8]
    private var rotatedAt: Double

    public init(now: Double, secret: [UInt8]? = nil) {
        current = secret ?? TokenIssuer.newSecret()
        previous = current
        rotatedAt = now
    }

    static func newSecret() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    private mutating func rotateIfDue(now: Double) {
        guard now - rotatedAt >= TokenIssuer.rotation else { return }
        // Two periods passed: the old secret must not survive as "previous".
        previous = now - rotatedAt >= 2 * TokenIssuer.rotation ? TokenIssuer.newSecret() : current
        current = TokenIssuer.newSecret()
        rotatedAt = now
    }

    private static func token(_ secret: [UInt8], _ ip: [UInt8]) -> [UInt8] {
        Array(SHA1.hash(secret + ip).prefix(tokenLength))
    }

    public mutating func token(for ip: [UInt8], now: Double) -> [UInt8] {
        rotateIfDue(now: now)
        return TokenIssuer.token(current, ip)
    }

    public mutating func isValid(_ token: [UInt8], for ip: [UInt8], now: Double) -> Bool {
        rotateIfDue(now: now)
        return token == TokenIssuer.token(current, ip) || token == TokenIssuer.token(previous, ip)
    }
}
