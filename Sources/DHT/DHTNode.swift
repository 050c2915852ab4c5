import Net

/// A DHT node on a `DatagramPort` (so it shares the peer port's UDP socket with uTP): sends
/// queries and matches replies by transaction id, answers queries through `NodeState`, keeps the
/// routing table fresh, and runs lookups (`DHTNode+Lookups.swift`). Runs on the port's loop thread.
public final class DHTNode {
    public struct Configuration: Sendable {
        /// Contacts for a node that knows no one (HOST:PORT already resolved).
        public var bootstrap: [SocketAddress] = []
        /// BEP 43: ask with `ro=1` and answer nothing (one-off commands).
        public var readOnly = false
        public var queryTimeout: Double = 2
        /// Where the routing table is saved; nil keeps it in memory only.
        public var statePath: String?
        public var loopbackOnly = AddressGuard.loopbackOnly
        public init() {}
    }

    /// One failed query.
    public enum QueryFailure: Error, Sendable, Equatable {
        case timeout
        case error(code: Int, message: String)
        case blocked(String)
    }

    /// One KRPC message in or out, for `--trace`.
    public struct TraceEvent {
        public var outgoing: Bool
        public var address: SocketAddress
        public var message: KRPCMessage
        /// For a response or error: the method of the query it answers (when it matched one).
        public var answers: String? = nil
    }

    public let port: DatagramPort
    public var loop: EventLoop { port.loop }
    public private(set) var configuration: Configuration
    public var state: NodeState
    public var onTrace: ((TraceEvent) -> Void)?
    /// Every valid query received (for `tt dht serve`).
    public var onQuery: ((KRPCQuery, SocketAddress, KRPCMessage) -> Void)?
    /// Datagrams that were not valid KRPC (for logs).
    public var onGarbage: ((SocketAddress, DHTError) -> Void)?
    /// Our address as other nodes report it (`ip`), by votes.
    public private(set) var externalAddressVotes: [SocketAddress: Int] = [:]
    public private(set) var queriesSent = 0
    public private(set) var queriesReceived = 0

    struct Pending {
        var address: SocketAddress
        var method: String
        var sentAt: Double
        var timer: EventLoop.TimerID
        var completion: (Result<(KRPCResponse, KRPCMessage), QueryFailure>) -> Void
    }

    private var pending: [[UInt8]: Pending] = [:]
    private var nextTransaction: UInt16 = UInt16.random(in: 0...UInt16.max)
    /// Addresses that queried us and are being pinged before they may enter the table.
    private var probing: Set<SocketAddress> = []
    private var maintenanceTimer: EventLoop.TimerID?
    public internal(set) var savedContacts: [NodeInfo] = []

    public init(port: DatagramPort, configuration: Configuration, ownID: NodeID? = nil) {
        self.port = port
        self.configuration = configuration
        var id = ownID
        if ownID == nil, let path = configuration.statePath, let saved = try? RoutingTableFile.load(path) {
            id = saved.id
            savedContacts = saved.nodes.filter { $0.address.family == port.family }
        }
        state = NodeState(ownID: id ?? .random(), family: port.family, now: monotonicSeconds())
        port.onKRPC = { [weak self] bytes, from in self?.receive(bytes, from: from) }
    }

    public var ownID: NodeID { state.ownID }
    public var localAddress: SocketAddress? { port.localAddress }

    /// The address most replies say we have.
    public var externalAddress: SocketAddress? { externalAddressVotes.max { $0.value < $1.value }?.key }

    // MARK: - Queries out

    /// Sends `query` (built with our id) to `address`; `completion` runs once, on the loop.
    public func send(_ query: KRPCQuery, to address: SocketAddress, timeout: Double? = nil,
                     completion: @escaping (Result<(KRPCResponse, KRPCMessage), QueryFailure>) -> Void) {
        guard AddressGuard.allows(address, loopbackOnly: configuration.loopbackOnly) else {
            completion(.failure(.blocked("\(address) is not a loopback address (\(AddressGuard.environmentVariable))")))
            return
        }
        var t: [UInt8]
        repeat {
            nextTransaction &+= 1
            t = [UInt8(nextTransaction >> 8), UInt8(nextTransaction & 0xff)]
        } while pending[t] != nil
        let message = KRPCMessage(transactionID: t, body: .query(query), version: NodeState.version, readOnly: configuration.readOnly)
        let key = t
        let timer = loop.schedule(after: timeout ?? configuration.queryTimeout) { [weak self] in
            guard let self, let entry = self.pending.removeValue(forKey: key) else { return }
            self.state.table.nodeFailed(entry.address)
            entry.completion(.failure(.timeout))
        }
        pending[t] = Pending(address: address, method: query.method, sentAt: monotonicSeconds(), timer: timer, completion: completion)
        queriesSent += 1
        transmit(message, to: address)
    }

    public func ping(_ address: SocketAddress, completion: @escaping (Result<(KRPCResponse, KRPCMessage), QueryFailure>) -> Void) {
        send(.ping(id: ownID), to: address, completion: completion)
    }

    private func transmit(_ message: KRPCMessage, to address: SocketAddress) {
        onTrace?(TraceEvent(outgoing: true, address: address, message: message))
        port.send(KRPCCodec.encode(message), to: address)
    }

    // MARK: - Messages in

    func receive(_ bytes: [UInt8], from address: SocketAddress) {
        let message: KRPCMessage
        do {
            message = try KRPCCodec.decode(bytes)
        } catch {
            onGarbage?(address, error)
            if !configuration.readOnly, let reply = KRPCCodec.errorReply(to: error, version: NodeState.version) {
                port.send(reply, to: address)
            }
            return
        }
        if let onTrace {
            let matched = pending[message.transactionID].flatMap { $0.address == address ? $0.method : nil }
            onTrace(TraceEvent(outgoing: false, address: address, message: message, answers: matched))
        }
        let now = monotonicSeconds()
        switch message.body {
        case .query(let query):
            queriesReceived += 1
            onQuery?(query, address, message)
            guard !configuration.readOnly else { return }  // BEP 43: a read-only node answers nothing
            let reply = state.answer(query, transactionID: message.transactionID, from: address, now: now)
            transmit(reply, to: address)
            if !message.readOnly, let id = query.senderID { consider(NodeInfo(id: id, address: address)) }
        case .response(let response):
            guard let entry = pending[message.transactionID], entry.address == address else { return }
            pending[message.transactionID] = nil
            loop.cancel(entry.timer)
            if let observed = message.observedAddress, externalAddressVotes.count < 64 || externalAddressVotes[observed] != nil {
                externalAddressVotes[observed, default: 0] += 1
            }
            if response.id != ownID {
                state.table.nodeReplied(NodeInfo(id: response.id, address: address), version: message.version, now: now)
            }
            entry.completion(.success((response, message)))
        case .error(let code, let text):
            guard let entry = pending[message.transactionID], entry.address == address else { return }
            pending[message.transactionID] = nil
            loop.cancel(entry.timer)
            entry.completion(.failure(.error(code: code, message: text)))
        }
    }

    /// A node that queried us enters the table only after answering our ping (BEP 5).
    private func consider(_ node: NodeInfo) {
        guard node.id != ownID, state.table.entry(at: node.address) == nil, probing.count < 32,
              probing.insert(node.address).inserted else { return }
        ping(node.address) { [weak self] _ in self?.probing.remove(node.address) }
    }

    // MARK: - Upkeep

    /// Every minute: ping questionable nodes, refresh stale buckets, expire peers, save the table.
    public func startMaintenance(interval: Double = 60) {
        maintenanceTimer = loop.schedule(after: interval) { [weak self] in
            guard let self else { return }
            let now = monotonicSeconds()
            for node in self.state.table.questionableNodes(now: now).prefix(16) { self.ping(node.address) { _ in } }
            for target in self.state.table.refreshTargets(now: now).prefix(4) { self.lookup(target, kind: .findNode) { _ in } }
            self.state.table.touchAll(now: now)
            self.state.store.expire(now: now)
            self.save()
            self.startMaintenance(interval: interval)
        }
    }

    /// Writes the routing table file (when configured); failures are returned, not thrown.
    @discardableResult
    public func save() -> DHTError? {
        guard let path = configuration.statePath else { return nil }
        let nodes = state.table.entries.filter { !$0.isBad }.map(\.node)
        guard !nodes.isEmpty else { return nil }  // a run that reached no one keeps the last good file
        do { try RoutingTableFile.save(.init(id: ownID, nodes: nodes), to: path) } catch { return error }
        return nil
    }

    /// Adopts a BEP 42 id for the external address most replies reported, if ours does not fit it.
    public func adoptSecureID() {
        guard let external = externalAddress, !ownID.isSecure(forExternalIP: external.ipBytes) else { return }
        state.table.changeOwnID(.secure(forExternalIP: external.ipBytes), now: monotonicSeconds())
    }

    /// Stops timers and drops pending queries (their completions are not called).
    public func close() {
        if let maintenanceTimer { loop.cancel(maintenanceTimer) }
        for entry in pending.values { loop.cancel(entry.timer) }
        pending.removeAll()
        port.onKRPC = nil
    }

    public var pendingCount: Int { pending.count }
}
