/// Why a peer's bytes are not valid peer wire protocol, or why a session with it cannot go on.
///
/// Messages read well after "peer 1.2.3.4:6881: "; `PeerWireError.named(_:)` adds the peer.
public enum PeerWireError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The first bytes are not `\x13BitTorrent protocol` (not a BitTorrent peer, or encrypted).
    case notBitTorrent(received: [UInt8])
    /// The peer answered for another torrent.
    case wrongInfoHash(expected: [UInt8], received: [UInt8])
    /// A length prefix above the limit (checked before anything is allocated).
    case messageTooLong(length: UInt32, limit: Int)
    /// A message id we do not know.
    case unknownMessage(id: UInt8, length: Int)
    /// A known message with the wrong payload length.
    case badLength(message: String, length: Int, expected: String)
    /// A bitfield of the wrong size or with spare bits set.
    case badBitfield(String)
    /// A piece index beyond the torrent.
    case pieceOutOfRange(message: String, index: UInt32, pieceCount: Int)
    /// A `piece` message for a block we never asked for.
    case unrequestedBlock(index: UInt32, begin: UInt32, length: Int)
    /// A request for bytes outside the piece, or larger than we serve.
    case badRequest(index: UInt32, begin: UInt32, length: UInt32, reason: String)
    /// A malformed BEP 10 extension handshake.
    case badExtensionHandshake(String)
    /// A message that breaks the protocol's order (e.g. a bitfield after other messages).
    case unexpected(String)
    /// Reading the served data failed.
    case storage(String)

    public var description: String {
        switch self {
        case .notBitTorrent(let bytes):
            let shown = bytes.prefix(24).map { (32..<127).contains($0) ? String(UnicodeScalar($0)) : "." }.joined()
            return "not a BitTorrent handshake (received \"\(shown)\")"
        case .wrongInfoHash(let expected, let received):
            return "peer answered with info hash \(hex(received)), not \(hex(expected)) (it does not serve this torrent)"
        case .messageTooLong(let length, let limit):
            return "message length prefix \(length) exceeds the limit of \(limit) bytes"
        case .unknownMessage(let id, let length):
            return "unknown message id \(id) (length \(length))"
        case .badLength(let message, let length, let expected):
            return "\(message) message has payload length \(length), expected \(expected)"
        case .badBitfield(let why):
            return "bad bitfield: \(why)"
        case .pieceOutOfRange(let message, let index, let count):
            return "\(message) for piece \(index), but the torrent has \(count) pieces"
        case .unrequestedBlock(let index, let begin, let length):
            return "piece message for a block never requested (piece \(index), offset \(begin), \(length) bytes)"
        case .badRequest(let index, let begin, let length, let reason):
            return "bad request (piece \(index), offset \(begin), length \(length)): \(reason)"
        case .badExtensionHandshake(let why):
            return "bad extension handshake: \(why)"
        case .unexpected(let what):
            return what
        case .storage(let why):
            return "reading data: \(why)"
        }
    }

    /// The message prefixed with the peer's address.
    public func named(_ peer: String) -> String { "peer \(peer): \(description)" }
}

func hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    let digits = Array("0123456789abcdef")
    var text = ""
    text.reserveCapacity(bytes.count * 2)
    for byte in bytes {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 0xF)])
    }
    return text
}
