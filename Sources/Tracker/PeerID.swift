/// Our peer id on the wire: Azureus style `-TT0100-` and 12 random bytes (CONVENTIONS "identity").
enum TrackerPeerID {
    static let prefix: [UInt8] = Array("-TT0100-".utf8)

    static func generate() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return prefix + (0..<12).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }
}
