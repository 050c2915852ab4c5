import Net

/// Everything a DHT node knows, and its answers to queries — without I/O, so the whole serving
/// side is tested with bytes and a fake clock. `DHTNode` puts it on a socket.
public struct NodeState: Sendable {
    public var table: RoutingTable
    public var tokens: TokenIssuer
    public var store = PeerStore()
    /// The address family of our socket: the family of nodes we can name (`nodes` or `nodes6`).
    public var family: SocketAddress.Family
    /// Our client version (`v`): `TT` and two version bytes.
    public static let version: [UInt8] = Array("TT".utf8) + [0, 1]
    public static let sampleCount = 20
    public static let sampleInterval = 60

    public init(ownID: NodeID, family: SocketAddress.Family = .ipv4, now: Double) {
        table = RoutingTable(ownID: ownID, now: now)
        tokens = TokenIssuer(now: now)
        self.family = family
    }

    public var ownID: NodeID { table.ownID }

    /// The reply to one incoming query (a response or an error), stamped with the asker's address.
    public mutating func answer(_ query: KRPCQuery, transactionID: [UInt8], from address: SocketAddress, now: Double) -> KRPCMessage {
        func reply(_ body: KRPCMessage.Body) -> KRPCMessage {
            KRPCMessage(transactionID: transactionID, body: body, version: NodeState.version, observedAddress: address)
        }
        var response = KRPCResponse(id: ownID)
        switch query {
        case .ping:
            break
        case .findNode(_, let target, let want):
            fillNodes(&response, near: target, want: want, asker: address)
        case .getPeers(_, let infoHash, let want):
            response.values = store.peers(for: infoHash, now: now).filter { $0.family == address.family }
            fillNodes(&response, near: infoHash, want: want, asker: address)
            response.token = tokens.token(for: address.ipBytes, now: now)
        case .announcePeer(_, let infoHash, let port, let token, let implied, let seed):
            guard tokens.isValid(token, for: address.ipBytes, now: now) else {
                return reply(.error(code: KRPCErrorCode.protocolError, message: "bad token"))
            }
            let peerPort = implied ? address.port : port
            guard peerPort != 0, let peer = SocketAddress(ipBytes: address.ipBytes, port: peerPort) else {
                return reply(.error(code: KRPCErrorCode.protocolError, message: "bad port"))
            }
            store.add(peer, for: infoHash, seed: seed, now: now)
        case .sampleInfohashes(_, let target):
            let hashes = store.infoHashes
            response.samples = Array(hashes.shuffled().prefix(NodeState.sampleCount))
            response.num = hashes.count
            response.interval = NodeState.sampleInterval
            fillNodes(&response, near: target, want: [], asker: address)
        case .unknown(let method, _):
            return reply(.error(code: KRPCErrorCode.methodUnknown, message: "method unknown: \(method.prefix(32))"))
        }
        return reply(.response(response))
    }

    private func fillNodes(_ response: inout KRPCResponse, near target: NodeID, want: KRPCQuery.Want, asker: SocketAddress) {
        let wanted = want.isEmpty ? (asker.family == .ipv4 ? KRPCQuery.Want.n4 : .n6) : want
        let closest = table.closest(to: target).filter { $0.address != asker }
        if family == .ipv4, wanted.contains(.n4) { response.nodes = closest }
        if family == .ipv6, wanted.contains(.n6) { response.nodes6 = closest }
    }
}
