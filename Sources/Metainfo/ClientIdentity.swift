/// Who we are on the wire and to trackers (tt-handshake(1)): the one place
/// the version lives, so the peer id, the extension handshake `v`, the HTTP User-Agent and
/// `tt --version` never disagree.
public enum ClientIdentity {
    public static let version = "0.1.0"
    /// Extension handshake `v`, `created by`, and our name in logs.
    public static let name = "tt \(version)"
    public static let userAgent = "tt/\(version)"

    /// Azureus style `-TTxyzw-`: the version's digits, padded to four.
    public static let peerIDPrefix: [UInt8] = {
        let digits = version.split(separator: ".").compactMap { Int($0) }
        let code = (digits + [0, 0, 0, 0]).prefix(4).map { String($0 % 10) }.joined()
        return Array("-TT\(code)-".utf8)
    }()

    /// A fresh peer id: the prefix and 12 random bytes.
    public static func newPeerID() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return peerIDPrefix + (0..<12).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }
}
