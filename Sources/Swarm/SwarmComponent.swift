import Net

/// A connected peer as components beside the engine see it (PEX lists these; the DHT pings their
/// `port`). A snapshot: take a fresh one from `SwarmEngine.connectedPeers` when needed.
public struct ConnectedPeer: Hashable, Sendable {
    /// The engine's key for this connection, stable while it lasts (for `SwarmEngine.send`).
    public var id: Int
    /// The address we are connected to (for incoming peers: their source port).
    public var address: SocketAddress
    /// Where the peer accepts connections: `address` for outgoing peers, the IP with the port of
    /// its extension handshake's `p` for incoming ones (nil when it did not say).
    public var listenAddress: SocketAddress?
    public var transport: TransportKind
    public var isEncrypted: Bool
    public var source: PeerSource
    /// We dialled it (so it is reachable).
    public var outgoing: Bool
    /// It has every piece.
    public var isSeed: Bool
    /// BEP 10 extension names it offered (`m` keys with a non-zero id).
    public var extensions: Set<String>
    /// Its extension handshake's `v`, when it sent one.
    public var clientVersion: String?
}

/// Something that runs beside the engine on its loop: the DHT node, the uTP multiplexer, PEX.
/// Add it with `SwarmEngine.add(_:)` before `run`; every call arrives on the loop's thread.
public protocol SwarmComponent: AnyObject {
    /// BEP 10 extension names this component speaks (e.g. `ut_pex`); the engine advertises them in
    /// its extension handshake and routes their payloads to `received(extension:payload:from:)`.
    var extensionNames: [String] { get }
    /// Once, after the engine's listener and datagram port are open (see `SwarmEngine.datagramPort`).
    func start(_ engine: SwarmEngine)
    /// Once, when the engine shuts down.
    func stop()
    /// A peer finished its handshake and extension handshake (or sent data without one).
    func peerConnected(_ peer: ConnectedPeer)
    func peerDisconnected(_ peer: ConnectedPeer)
    /// BEP 5: a peer sent its DHT port.
    func peer(_ peer: ConnectedPeer, announcedDHTPort port: UInt16)
    /// A payload of one of `extensionNames` from a peer.
    func received(extension name: String, payload: [UInt8], from peer: ConnectedPeer)
}

extension SwarmComponent {
    public var extensionNames: [String] { [] }
    public func start(_ engine: SwarmEngine) {}
    public func stop() {}
    public func peerConnected(_ peer: ConnectedPeer) {}
    public func peerDisconnected(_ peer: ConnectedPeer) {}
    public func peer(_ peer: ConnectedPeer, announcedDHTPort port: UInt16) {}
    public func received(extension name: String, payload: [UInt8], from peer: ConnectedPeer) {}
}
