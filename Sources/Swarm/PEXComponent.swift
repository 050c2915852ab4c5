import Net
import PeerWire

/// Peer exchange (BEP 11, `ut_pex`): tells each peer that speaks it which peers we are connected to
/// (added and dropped since the last message, with flags) at most once per `interval`, and dials
/// the peers others tell us about (`"source": "pex"`, at most 50 per message). Never used for a
/// private torrent (BEP 27): it does not even advertise `ut_pex` there.
public final class PEXComponent: SwarmComponent {
    public let isPrivate: Bool
    /// Seconds between two messages to one peer (BEP 11: at most one a minute).
    public var interval: Double
    /// Seconds after a peer's extension handshake before our first message (peers settle first).
    public var firstDelay: Double
    /// Peers learned from PEX so far, for statistics.
    public private(set) var learned = 0

    /// Messages from one peer closer together than this are ignored (BEP 11 allows one a minute),
    /// so a hostile peer cannot flood the roster with fresh lists.
    public var minimumGap = 20.0
    private var lastReceived: [Int: Double] = [:]
    private weak var engine: SwarmEngine?
    private var timer: EventLoop.TimerID?
    private var targets: [Int: Target] = [:]

    struct Target {
        var peer: ConnectedPeer
        var due: Double
        /// What we last told this peer we are connected to (listen addresses).
        var told: Set<SocketAddress> = []
        var sentOnce = false
    }

    public init(isPrivate: Bool, interval: Double = 60, firstDelay: Double = 3) {
        self.isPrivate = isPrivate
        self.interval = interval
        self.firstDelay = firstDelay
    }

    public var extensionNames: [String] { isPrivate ? [] : [PEXMessage.name] }

    public func start(_ engine: SwarmEngine) {
        guard !isPrivate else { return }
        self.engine = engine
        scheduleTick()
    }

    public func stop() {
        if let timer { engine?.loop.cancel(timer) }
        timer = nil
        targets = [:]
    }

    public func peerConnected(_ peer: ConnectedPeer) {
        guard !isPrivate, let engine, peer.extensions.contains(PEXMessage.name) else { return }
        targets[peer.id] = Target(peer: peer, due: engine.loop.now + firstDelay)
    }

    public func peerDisconnected(_ peer: ConnectedPeer) {
        targets[peer.id] = nil
        lastReceived[peer.id] = nil
    }

    public func received(extension name: String, payload: [UInt8], from peer: ConnectedPeer) {
        guard !isPrivate, name == PEXMessage.name, let engine else { return }
        let now = engine.loop.now
        if let last = lastReceived[peer.id], now - last < minimumGap { return }
        lastReceived[peer.id] = now
        // A malformed message costs the sender nothing but its own usefulness: ignore it.
        guard let message = try? PEXMessage(decoding: payload) else { return }
        let addresses = message.added.prefix(PEXMessage.maxAdded).compactMap { entry -> SocketAddress? in
            guard entry.port != 0 else { return nil }
            return SocketAddress(ipBytes: entry.ip, port: entry.port)
        }
        learned += addresses.count
        if !addresses.isEmpty { engine.addPeers(addresses, source: .pex) }
    }

    // MARK: - Sending

    private func scheduleTick() {
        guard let engine else { return }
        timer = engine.loop.schedule(after: 1) { [weak self] in
            self?.tick()
            self?.scheduleTick()
        }
    }

    private func tick() {
        guard let engine else { return }
        let now = engine.loop.now
        let connected = engine.connectedPeers
        for (id, target) in targets where target.due <= now {
            var target = target
            target.due = now + interval
            var current: [SocketAddress: PEXMessage.Flags] = [:]
            for peer in connected where peer.id != id {
                guard let address = peer.listenAddress else { continue }
                current[address] = Self.flags(peer)
            }
            let added = current.keys.filter { !target.told.contains($0) }.prefix(PEXMessage.maxAdded)
            let dropped = target.told.filter { current[$0] == nil }
            if added.isEmpty && dropped.isEmpty && target.sentOnce {
                targets[id] = target
                continue
            }
            let message = PEXMessage(added: added.map { PEXMessage.Peer(ip: $0.ipBytes, port: $0.port, flags: current[$0]!) },
                                     dropped: dropped.map { PEXMessage.Peer(ip: $0.ipBytes, port: $0.port) })
            if engine.send(extension: PEXMessage.name, payload: message.encoded(), to: id) {
                target.told.formUnion(added)
                target.told.subtract(dropped)
                target.sentOnce = true
            }
            targets[id] = target
        }
    }

    static func flags(_ peer: ConnectedPeer) -> PEXMessage.Flags {
        var flags: PEXMessage.Flags = []
        if peer.isSeed { flags.insert(.seed) }
        if peer.transport == .utp { flags.insert(.utp) }
        if peer.isEncrypted { flags.insert(.prefersEncryption) }
        if peer.outgoing { flags.insert(.reachable) }
        return flags
    }
}
