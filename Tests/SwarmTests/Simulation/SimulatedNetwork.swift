import Net

/// An in-memory network on a virtual-clock loop: hosts with upload/download rates and latency,
/// listeners, and connections made of `SimulatedStream` pairs. It is the engine's dialer in a
/// simulation (`dial(_:loop:timeout:completion:)` has `PeerDialer`'s shape).
final class SimulatedNetwork {
    /// How fast and how far a host is.
    struct Host {
        /// Bytes/s the host can send (infinity: no limit).
        var upload: Double = .infinity
        /// Bytes/s the host can receive.
        var download: Double = .infinity
        /// One-way delay to or from the host, added on both ends of a connection.
        var latency: Double = 0.005
        /// Connections to it succeed; false refuses them.
        var accepts = true
        /// SYNs vanish: dials time out instead of being refused.
        var blackHole = false
    }

    let loop: EventLoop
    private(set) var hosts: [SocketAddress: Host] = [:]
    private var listeners: [SocketAddress: (SimulatedStream) -> Void] = [:]
    /// Every dial, in order, for the tests.
    private(set) var dials: [SocketAddress] = []
    /// Every connection made, engine side or peer side first as dialled.
    private(set) var connections: [(dialer: SimulatedStream, listener: SimulatedStream)] = []

    init(loop: EventLoop) {
        precondition(loop.isVirtual, "a simulation needs a loop on a virtual clock")
        self.loop = loop
    }

    /// Adds or changes a host.
    func add(_ address: SocketAddress, _ host: Host = Host()) { hosts[address] = host }

    /// Calls `accept` with the listener's end of every connection made to `address`.
    func listen(at address: SocketAddress, _ host: Host = Host(), accept: @escaping (SimulatedStream) -> Void) {
        hosts[address] = host
        listeners[address] = accept
    }

    func stopListening(at address: SocketAddress) { listeners[address] = nil }

    /// Connects `from` to `address` after one round trip; the listener gets its end half a round trip in.
    func dial(_ address: SocketAddress, from local: SocketAddress, timeout: Double,
              completion: @escaping (Result<SimulatedStream, NetError>) -> Void) {
        dials.append(address)
        let near = hosts[local] ?? Host()
        let far = hosts[address] ?? Host()
        let oneWay = near.latency + far.latency
        guard let accept = listeners[address], far.accepts, !far.blackHole else {
            if far.blackHole || hosts[address] == nil {
                loop.schedule(after: timeout) { completion(.failure(.timeout(what: "connecting to \(address) (after \(timeout) s)"))) }
            } else {
                loop.schedule(after: 2 * oneWay) { completion(.failure(.refused(address: address.description))) }
            }
            return
        }
        let outbound = SimulatedStream.Lane(rate: min(near.upload, far.download), latency: oneWay)
        let inbound = SimulatedStream.Lane(rate: min(far.upload, near.download), latency: oneWay)
        let mine = SimulatedStream(loop: loop, local: local, remote: address, outgoing: outbound)
        let theirs = SimulatedStream(loop: loop, local: address, remote: local, outgoing: inbound)
        mine.peer = theirs
        theirs.peer = mine
        connections.append((mine, theirs))
        loop.schedule(after: oneWay) { accept(theirs) }
        loop.schedule(after: 2 * oneWay) { completion(.success(mine)) }
    }

    /// The address the engine dials from and listens on.
    static let engineAddress = SocketAddress(ip: "10.0.0.1", port: 6881)!

    /// The engine's dialer: every dial comes from `engineAddress`.
    func dial(_ address: SocketAddress, loop: EventLoop, timeout: Double,
              completion: @escaping (Result<any ByteStream, NetError>) -> Void) {
        precondition(loop === self.loop, "the engine must run on the simulation's loop")
        dial(address, from: Self.engineAddress, timeout: timeout) { completion($0.map { $0 as any ByteStream }) }
    }

    /// A peer's address: 10.1.x.y:6881 for peer `index`.
    static func peerAddress(_ index: Int) -> SocketAddress {
        SocketAddress(ip: "10.1.\(index / 250).\(index % 250 + 1)", port: 6881)!
    }
}
