/// A block of a piece: what `request`, `cancel` and `reject` name.
public struct BlockRequest: Hashable, Sendable {
    public var index: UInt32
    public var begin: UInt32
    public var length: UInt32

    public init(index: UInt32, begin: UInt32, length: UInt32) {
        self.index = index
        self.begin = begin
        self.length = length
    }
}

/// Message ids on the wire (BEP 3, 5, 6, 10).
public enum MessageID {
    public static let choke: UInt8 = 0
    public static let unchoke: UInt8 = 1
    public static let interested: UInt8 = 2
    public static let notInterested: UInt8 = 3
    public static let have: UInt8 = 4
    public static let bitfield: UInt8 = 5
    public static let request: UInt8 = 6
    public static let piece: UInt8 = 7
    public static let cancel: UInt8 = 8
    public static let port: UInt8 = 9
    public static let suggest: UInt8 = 13
    public static let haveAll: UInt8 = 14
    public static let haveNone: UInt8 = 15
    public static let reject: UInt8 = 16
    public static let allowedFast: UInt8 = 17
    public static let extended: UInt8 = 20
}

/// Every peer wire message after the handshake.
public enum PeerMessage: Hashable, Sendable {
    case keepAlive
    case choke
    case unchoke
    case interested
    case notInterested
    case have(piece: UInt32)
    case bitfield([UInt8])
    case request(BlockRequest)
    case piece(index: UInt32, begin: UInt32, block: [UInt8])
    case cancel(BlockRequest)
    /// BEP 5: the peer's DHT port.
    case port(UInt16)
    // BEP 6, the fast extension.
    case suggest(piece: UInt32)
    case haveAll
    case haveNone
    case reject(BlockRequest)
    case allowedFast(piece: UInt32)
    /// BEP 10: id 0 is the extension handshake, others as the receiver's `m` dictionary assigned.
    case extended(id: UInt8, payload: [UInt8])

    /// The message's name in traces and errors (`not_interested`, `have_all`, …).
    public var name: String {
        switch self {
        case .keepAlive: return "keep_alive"
        case .choke: return "choke"
        case .unchoke: return "unchoke"
        case .interested: return "interested"
        case .notInterested: return "not_interested"
        case .have: return "have"
        case .bitfield: return "bitfield"
        case .request: return "request"
        case .piece: return "piece"
        case .cancel: return "cancel"
        case .port: return "port"
        case .suggest: return "suggest"
        case .haveAll: return "have_all"
        case .haveNone: return "have_none"
        case .reject: return "reject"
        case .allowedFast: return "allowed_fast"
        case .extended: return "extended"
        }
    }

    /// The message id (nil for keep-alive, which has none).
    public var id: UInt8? {
        switch self {
        case .keepAlive: return nil
        case .choke: return MessageID.choke
        case .unchoke: return MessageID.unchoke
        case .interested: return MessageID.interested
        case .notInterested: return MessageID.notInterested
        case .have: return MessageID.have
        case .bitfield: return MessageID.bitfield
        case .request: return MessageID.request
        case .piece: return MessageID.piece
        case .cancel: return MessageID.cancel
        case .port: return MessageID.port
        case .suggest: return MessageID.suggest
        case .haveAll: return MessageID.haveAll
        case .haveNone: return MessageID.haveNone
        case .reject: return MessageID.reject
        case .allowedFast: return MessageID.allowedFast
        case .extended: return MessageID.extended
        }
    }

    /// Bytes on the wire, length prefix included.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        encode(into: &out)
        return out
    }

    /// Appends the framed message to `out`.
    public func encode(into out: inout [UInt8]) {
        func u32(_ value: UInt32) {
            out.append(UInt8(value >> 24)); out.append(UInt8(truncatingIfNeeded: value >> 16))
            out.append(UInt8(truncatingIfNeeded: value >> 8)); out.append(UInt8(truncatingIfNeeded: value))
        }
        func header(_ payload: Int) {
            u32(UInt32(1 + payload))
            out.append(id!)
        }
        switch self {
        case .keepAlive: u32(0)
        case .choke, .unchoke, .interested, .notInterested, .haveAll, .haveNone: header(0)
        case .have(let piece), .suggest(let piece), .allowedFast(let piece): header(4); u32(piece)
        case .bitfield(let bits): header(bits.count); out += bits
        case .request(let block), .cancel(let block), .reject(let block):
            header(12); u32(block.index); u32(block.begin); u32(block.length)
        case .piece(let index, let begin, let block):
            header(8 + block.count); u32(index); u32(begin); out += block
        case .port(let port): header(2); out.append(UInt8(port >> 8)); out.append(UInt8(truncatingIfNeeded: port))
        case .extended(let extendedID, let payload):
            header(1 + payload.count); out.append(extendedID); out += payload
        }
    }

    /// The 13 bytes before a `piece` message's block (length prefix, id, index, offset), for senders
    /// that send the block behind them from where it already is (no copy).
    public static func pieceHeader(index: UInt32, begin: UInt32, blockLength: Int) -> [UInt8] {
        let length = UInt32(9 + blockLength)
        return [UInt8(length >> 24), UInt8(truncatingIfNeeded: length >> 16), UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length),
                MessageID.piece,
                UInt8(index >> 24), UInt8(truncatingIfNeeded: index >> 16), UInt8(truncatingIfNeeded: index >> 8), UInt8(truncatingIfNeeded: index),
                UInt8(begin >> 24), UInt8(truncatingIfNeeded: begin >> 16), UInt8(truncatingIfNeeded: begin >> 8), UInt8(truncatingIfNeeded: begin)]
    }

    /// Decodes one message from its id and payload (the bytes after the id).
    public init(id: UInt8, payload: ArraySlice<UInt8>) throws(PeerWireError) {
        func need(_ name: String, _ count: Int) throws(PeerWireError) {
            guard payload.count == count else { throw .badLength(message: name, length: payload.count, expected: String(count)) }
        }
        func u32(_ at: Int) -> UInt32 {
            let base = payload.startIndex + at
            return UInt32(payload[base]) << 24 | UInt32(payload[base + 1]) << 16 | UInt32(payload[base + 2]) << 8 | UInt32(payload[base + 3])
        }
        func block() -> BlockRequest { BlockRequest(index: u32(0), begin: u32(4), length: u32(8)) }
        switch id {
        case MessageID.choke: try need("choke", 0); self = .choke
        case MessageID.unchoke: try need("unchoke", 0); self = .unchoke
        case MessageID.interested: try need("interested", 0); self = .interested
        case MessageID.notInterested: try need("not_interested", 0); self = .notInterested
        case MessageID.have: try need("have", 4); self = .have(piece: u32(0))
        case MessageID.bitfield: self = .bitfield(Array(payload))
        case MessageID.request: try need("request", 12); self = .request(block())
        case MessageID.piece:
            guard payload.count >= 8 else { throw .badLength(message: "piece", length: payload.count, expected: "at least 8") }
            self = .piece(index: u32(0), begin: u32(4), block: Array(payload.dropFirst(8)))
        case MessageID.cancel: try need("cancel", 12); self = .cancel(block())
        case MessageID.port:
            try need("port", 2)
            self = .port(UInt16(payload[payload.startIndex]) << 8 | UInt16(payload[payload.startIndex + 1]))
        case MessageID.suggest: try need("suggest", 4); self = .suggest(piece: u32(0))
        case MessageID.haveAll: try need("have_all", 0); self = .haveAll
        case MessageID.haveNone: try need("have_none", 0); self = .haveNone
        case MessageID.reject: try need("reject", 12); self = .reject(block())
        case MessageID.allowedFast: try need("allowed_fast", 4); self = .allowedFast(piece: u32(0))
        case MessageID.extended:
            guard payload.count >= 1 else { throw .badLength(message: "extended", length: 0, expected: "at least 1") }
            self = .extended(id: payload[payload.startIndex], payload: Array(payload.dropFirst()))
        default:
            throw .unknownMessage(id: id, length: payload.count + 1)
        }
    }
}
