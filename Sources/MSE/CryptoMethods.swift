import Hashing

/// The methods of `crypto_provide` / `crypto_select` (a 32-bit field on the wire).
public struct CryptoMethods: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// 0x01: after the handshake the stream is not encrypted.
    public static let plaintext = CryptoMethods(rawValue: 0x01)
    /// 0x02: the stream stays RC4-encrypted.
    public static let rc4 = CryptoMethods(rawValue: 0x02)

    /// Names as reports show them: "plaintext", "rc4", "plaintext+rc4", or hex for unknown bits.
    public var names: [String] {
        var names: [String] = []
        if contains(.plaintext) { names.append("plaintext") }
        if contains(.rc4) { names.append("rc4") }
        let unknown = rawValue & ~0x03
        if unknown != 0 { names.append("0x" + String(unknown, radix: 16)) }
        return names
    }

    public var description: String { names.isEmpty ? "none" : names.joined(separator: "+") }
}

/// MSE/PE constants and the hashes both sides derive from the shared secret.
public enum MSE {
    /// Longest PadA, PadB, PadC or PadD the spec allows.
    public static let maxPadding = 512
    /// The verification constant: eight zero bytes, sent encrypted.
    static let verificationConstant = [UInt8](repeating: 0, count: 8)
    /// RC4 keystream bytes thrown away before use.
    static let discard = 1024

    static func hash(_ label: String, _ parts: [UInt8]...) -> [UInt8] {
        var hasher = SHA1()
        hasher.update(Array(label.utf8))
        for part in parts { hasher.update(part) }
        return hasher.finalize()
    }

    /// HASH('req2', SKEY): what a receiver keeps per served torrent to recognise the initiator's.
    public static func req2(infoHash: [UInt8]) -> [UInt8] { hash("req2", infoHash) }

    /// The cipher one side encrypts with: keyA for the initiator, keyB for the receiver.
    static func cipher(_ label: String, secret: [UInt8], infoHash: [UInt8]) -> RC4 {
        RC4(key: hash(label, secret, infoHash), discard: discard)
    }

    /// Random bytes of random length 0…maxLength (PadA, PadB).
    public static func randomPadding(maxLength: Int = maxPadding) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        let length = Int.random(in: 0...maxLength, using: &generator)
        return (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    static func uint32(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }

    static func uint16(_ value: Int) -> [UInt8] { [UInt8(value >> 8 & 0xff), UInt8(value & 0xff)] }

    static func readUInt32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }

    static func readUInt16(_ bytes: ArraySlice<UInt8>) -> Int {
        bytes.reduce(0) { $0 << 8 | Int($1) }
    }

    /// First index at or after `from` where `pattern` starts in `buffer`, looking no further than `limit`.
    static func find(_ pattern: [UInt8], in buffer: [UInt8], from: Int, limit: Int) -> Int? {
        let last = min(buffer.count - pattern.count, limit)
        guard last >= from else { return nil }
        for start in from...last where buffer[start] == pattern[0] {
            if buffer[start..<start + pattern.count].elementsEqual(pattern) { return start }
        }
        return nil
    }
}

/// Why an MSE handshake failed; the connection is dropped with this reason.
public enum MSEError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The sync pattern (HASH('req1', S) or the encrypted VC) did not appear within `window` bytes.
    case noSync(what: String, window: Int)
    /// The peer's DH public key is not a usable number below P.
    case badPublicKey
    /// HASH('req2', SKEY) named none of the torrents we serve.
    case unknownTorrent
    /// The decrypted verification constant was not zero: the peer derived other keys.
    case badVerificationConstant
    /// PadC or PadD longer than 512 bytes.
    case paddingTooLong(field: String, length: Int)
    /// The initiator offered nothing we allow.
    case noCommonMethod(offered: CryptoMethods, allowed: CryptoMethods)
    /// `crypto_select` is not exactly one of the methods we offered.
    case selectNotOffered(selected: UInt32, offered: CryptoMethods)

    public var description: String {
        switch self {
        case .noSync(let what, let window): "no \(what) within \(window) bytes (not an MSE peer, or other keys)"
        case .badPublicKey: "the peer's Diffie-Hellman key is not a number between 2 and P-2"
        case .unknownTorrent: "the peer asked for a torrent we do not serve (HASH('req2', SKEY) matches none)"
        case .badVerificationConstant: "the verification constant did not decrypt to zeros"
        case .paddingTooLong(let field, let length): "\(field) is \(length) bytes, more than the 512 allowed"
        case .noCommonMethod(let offered, let allowed): "the peer offers \(offered) and we allow only \(allowed)"
        case .selectNotOffered(let selected, let offered):
            "the peer selected \(CryptoMethods(rawValue: selected)) (0x\(String(selected, radix: 16))) but we offered \(offered)"
        }
    }
}

/// One step of a handshake, for `--trace`.
public struct MSEStep: Sendable, Equatable {
    public let name: String
    public let fields: [Field]

    public enum Value: Sendable, Equatable {
        case int(Int)
        case string(String)
    }

    public struct Field: Sendable, Equatable {
        public let key: String
        public let value: Value
    }

    init(_ name: String, _ fields: [(String, Value)] = []) {
        self.name = name
        self.fields = fields.map { Field(key: $0.0, value: $0.1) }
    }
}

/// What a finished handshake hands to the stream: ciphers for the rest of the connection and
/// the bytes that already arrived past the handshake.
public struct MSEOutcome {
    /// The method both sides now use.
    public let method: CryptoMethods
    /// What the initiator offered (`crypto_provide`).
    public let offered: CryptoMethods
    /// The torrent's info hash (SKEY): for a receiver, the one it found.
    public let infoHash: [UInt8]
    /// Encrypts what we send next; nil after plaintext was selected.
    public let encryptor: RC4?
    /// Decrypts what arrives next; nil after plaintext was selected.
    public let decryptor: RC4?
    /// Payload bytes already received and decrypted (for a receiver, the initial payload first).
    public let payload: [UInt8]

    /// True when the stream after the handshake is RC4-encrypted.
    public var isEncrypted: Bool { method == .rc4 }
}
