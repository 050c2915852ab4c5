import Metainfo
import Net
import PeerWire

/// One peer driven step by step, for work with a single peer (`tt handshake`, `tt fetch-piece`, the
/// magnet metadata fetch): a `PeerSession` over any `ByteStream` on a private loop, each wait
/// bounded by a deadline. The swarm engine drives the same session type from its shared loop.
public final class PeerLink {
    public let address: SocketAddress
    public private(set) var session: PeerSession
    public let stream: any ByteStream
    private let loop: EventLoop
    private var events: [PeerLinkEvent] = []
    private var ended: NetError??
    private var failure: PeerWireError?
    /// Every frame in and out, for `--trace` (set before the first `send`).
    public var trace: ((PeerSession.TracedFrame) -> Void)? {
        didSet { session.recordsFrames = trace != nil }
    }

    /// Dials `address` (blocking up to `timeout`) and starts a session as the initiator; send the
    /// handshake with `open()`.
    public init(connecting address: SocketAddress, configuration: PeerSession.Configuration, dialer: any PeerDialer = TCPDialer(),
                timeout: Double) throws(SwarmError) {
        let loop = EventLoop()
        var result: Result<any ByteStream, NetError>?
        dialer.dial(address, loop: loop, timeout: timeout) { result = $0 }
        while result == nil { loop.runOnce(timeout: nil) }
        switch result! {
        case .success(let stream): self.stream = stream
        case .failure(let error): throw .connect(error)
        }
        self.address = address
        self.loop = loop
        self.session = PeerSession(configuration, initiator: true)
        stream.onData = { [weak self] bytes in self?.receive(bytes) }
        stream.onClose = { [weak self] error in self?.ended = .some(error) }
        stream.start()
    }

    deinit { stream.close() }

    /// Queues our handshake and writes it.
    public func open() {
        session.start()
        flush()
    }

    public func send(_ message: PeerMessage) {
        session.send(message)
        flush()
    }

    /// Lets `body` change the session (e.g. send availability), then writes what it queued.
    public func update(_ body: (inout PeerSession) -> Void) {
        body(&session)
        flush()
    }

    public func close() { stream.close() }

    /// The next event; waits until `deadline` (monotonic seconds), then throws `.peerTimeout`.
    public func next(deadline: Double, waitingFor what: String) throws(SwarmError) -> PeerLinkEvent {
        while events.isEmpty {
            if let failure { throw .peerProtocol(peer: address.description, failure) }
            if let ended {
                throw .peerClosed(peer: address.description, beforeHandshake: !session.handshakeDone, waitingFor: what, error: ended)
            }
            let left = deadline - monotonicSeconds()
            guard left > 0 else { throw .peerTimeout(peer: address.description, waitingFor: what) }
            loop.runOnce(timeout: left)
        }
        return events.removeFirst()
    }

    /// Like `next`, but nil when the deadline passes.
    public func nextIfAny(deadline: Double) throws(SwarmError) -> PeerLinkEvent? {
        do {
            return try next(deadline: deadline, waitingFor: "")
        } catch .peerTimeout {
            return nil
        }
    }

    private func receive(_ bytes: ArraySlice<UInt8>) {
        session.append(bytes)
        do {
            while true {
                var blocks: [PeerLinkEvent] = []
                let event = try session.next { index, begin, block in
                    blocks.append(.block(index: index, begin: begin, bytes: Array(block)))
                }
                events += blocks
                guard let event else { break }
                events.append(.session(event))
            }
        } catch {
            failure = error
        }
        flush()
    }

    private func flush() {
        if let trace { for frame in session.takeFrames() { trace(frame) } }
        guard session.hasOutput, stream.isOpen else { return }
        // Written as the loop runs in the next wait (the stream keeps the order).
        stream.write(session.takeOutput())
    }
}

/// What `PeerLink.next` returns: a session event or a block of a `piece` message.
public enum PeerLinkEvent: Sendable, Equatable {
    case session(PeerSession.Event)
    case block(index: UInt32, begin: UInt32, bytes: [UInt8])
}
