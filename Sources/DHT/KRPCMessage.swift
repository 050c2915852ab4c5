import Net

/// One KRPC message (BEP 5): a query, a response or an error, with the envelope fields
/// every kind may carry.
public struct KRPCMessage: Sendable, Equatable {
    public enum Body: Sendable, Equatable {
        case query(KRPCQuery)
        case response(KRPCResponse)
        case error(code: Int, message: String)
    }

    /// Transaction id (`t`): echoed by the reply, opaque bytes.
    public var transactionID: [UInt8]
    public var body: Body
    /// Client version (`v`), e.g. `LT\x02\x08` or `TT01`.
    public var version: [UInt8]?
    /// The requester's address as the replier sees it (`ip`, BEP 42).
    public var observedAddress: SocketAddress?
    /// BEP 43: a read-only node that must not be added to routing tables.
    public var readOnly: Bool

    public init(transactionID: [UInt8], body: Body, version: [UInt8]? = nil,
                observedAddress: SocketAddress? = nil, readOnly: Bool = false) {
        self.transactionID = transactionID
        self.body = body
        self.version = version
        self.observedAddress = observedAddress
        self.readOnly = readOnly
    }

    /// `q`, `r` or `e`.
    public var y: String {
        switch body {
        case .query: return "q"
        case .response: return "r"
        case .error: return "e"
        }
    }
}

/// The queries of BEP 5 and BEP 51; any other method is `unknown` (answered with error 204).
public enum KRPCQuery: Sendable, Equatable {
    case ping(id: NodeID)
    case findNode(id: NodeID, target: NodeID, want: Want)
    case getPeers(id: NodeID, infoHash: NodeID, want: Want)
    /// `port` is the announced port; with `impliedPort` the sender's UDP source port counts instead.
    case announcePeer(id: NodeID, infoHash: NodeID, port: UInt16, token: [UInt8], impliedPort: Bool, seed: Bool)
    case sampleInfohashes(id: NodeID, target: NodeID)
    case unknown(method: String, id: NodeID?)

    /// BEP 32 `want`: which address families of nodes to return.
    public struct Want: OptionSet, Sendable, Hashable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        public static let n4 = Want(rawValue: 1)
        public static let n6 = Want(rawValue: 2)
    }

    public var method: String {
        switch self {
        case .ping: return "ping"
        case .findNode: return "find_node"
        case .getPeers: return "get_peers"
        case .announcePeer: return "announce_peer"
        case .sampleInfohashes: return "sample_infohashes"
        case .unknown(let method, _): return method
        }
    }

    public var senderID: NodeID? {
        switch self {
        case .ping(let id), .findNode(let id, _, _), .getPeers(let id, _, _), .sampleInfohashes(let id, _):
            return id
        case .announcePeer(let id, _, _, _, _, _):
            return id
        case .unknown(_, let id):
            return id
        }
    }
}

/// A response's fields; which are present depends on the query it answers.
public struct KRPCResponse: Sendable, Equatable {
    public var id: NodeID
    public var nodes: [NodeInfo] = []
    public var nodes6: [NodeInfo] = []
    /// Peers (`values`) from get_peers.
    public var values: [SocketAddress] = []
    public var token: [UInt8]?
    /// BEP 51 fields.
    public var samples: [NodeID] = []
    public var interval: Int?
    public var num: Int?
    /// libtorrent's `p`: our source port as seen (unused but traced).
    public var port: Int?

    public init(id: NodeID) { self.id = id }

    public var allNodes: [NodeInfo] { nodes + nodes6 }
}

/// Error codes of BEP 5.
public enum KRPCErrorCode {
    public static let generic = 201
    public static let server = 202
    public static let protocolError = 203
    public static let methodUnknown = 204
}
