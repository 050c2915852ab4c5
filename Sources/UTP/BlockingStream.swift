import Net

/// A `ByteStream` used in blocking style with deadlines, by running its event loop while waiting
/// (for one-shot peer commands: `tt handshake`, `tt fetch-piece`). Also dials over uTP, TCP or
/// both at once (`auto`: the first to answer our opening bytes wins).
public final class BlockingStream {
    public let loop: EventLoop
    public let stream: ByteStream
    private var buffer: [UInt8] = []
    private var finished = false
    private var failure: NetError?
    /// What must live as long as the stream (its UDP port and multiplexer).
    private let owned: [AnyObject]

    init(loop: EventLoop, stream: ByteStream, received: [UInt8], owned: [AnyObject]) {
        self.loop = loop
        self.stream = stream
        self.buffer = received
        self.owned = owned
        stream.onData = { [unowned self] bytes in self.buffer.append(contentsOf: bytes) }
        stream.onClose = { [unowned self] error in self.finished = true; self.failure = error }
        stream.start()
    }

    public var transport: TransportKind { stream.transport }

    /// Queues bytes and runs the loop until they are handed to the carrier.
    public func send(_ bytes: [UInt8], deadline: Deadline) throws(NetError) {
        if finished { throw failure ?? .closed(address: stream.remote.description) }
        stream.write(bytes)
        while stream.bufferedBytes > 0 && !finished {
            if deadline.hasPassed { throw .timeout(what: "sending to \(stream.remote)") }
            loop.runOnce(timeout: min(deadline.remaining, 0.05))
        }
        if finished && stream.bufferedBytes > 0 { throw failure ?? .closed(address: stream.remote.description) }
    }

    /// Up to `max` bytes; [] at an orderly end of stream.
    public func receive(max: Int, deadline: Deadline) throws(NetError) -> [UInt8] {
        while buffer.isEmpty {
            if finished {
                if let failure { throw failure }
                return []
            }
            if deadline.hasPassed { throw .timeout(what: "waiting for \(stream.remote)") }
            loop.runOnce(timeout: min(deadline.remaining, 0.05))
        }
        let count = min(max, buffer.count)
        let bytes = Array(buffer[0..<count])
        buffer.removeFirst(count)
        return bytes
    }

    public func close() {
        stream.close()
        for object in owned { (object as? UTPMultiplexer)?.shutdown() }
        // Let the FIN leave before the port closes.
        loop.runOnce(timeout: 0)
        for object in owned { (object as? DatagramPort)?.close() }
    }

    /// Which carriers `connect` tries.
    public enum Choice: String, Sendable, CaseIterable {
        case tcp, utp, auto
    }

    /// Connects with `choice`, sends `opening` (our handshake) and waits until `expect` bytes have come
    /// back (theirs). With `auto`, uTP and TCP race and the first to deliver `expect` bytes is kept.
    public static func connect(to address: SocketAddress, choice: Choice, opening: [UInt8], expect: Int, timeout: Double,
                               deadline: Deadline, from local: SocketAddress? = nil,
                               trace: ((UTPMultiplexer.TraceRecord) -> Void)? = nil) throws(NetError) -> BlockingStream {
        let loop = EventLoop()
        var owned: [AnyObject] = []
        var multiplexer: UTPMultiplexer?
        if choice != .tcp {
            let bind = local.map { SocketAddress(ipBytes: $0.ipBytes, port: 0)! } ?? .any(address.family)
            let port = try DatagramPort(loop: loop, bind: bind)
            let created = UTPMultiplexer(port: port)
            created.onTrace = trace
            multiplexer = created
            owned = [created, port]
        }
        var attempts: [Attempt] = []
        var winner: Attempt?
        var errors: [TransportKind: NetError] = [:]
        var live: Set<TransportKind> = choice == .auto ? [.tcp, .utp] : [choice == .tcp ? .tcp : .utp]
        func started(_ result: Result<ByteStream, NetError>, _ kind: TransportKind) {
            switch result {
            case .failure(let error):
                errors[kind] = error
                live.remove(kind)
            case .success(let stream):
                let attempt = Attempt(stream: stream)
                attempts.append(attempt)
                stream.onData = { bytes in
                    attempt.received.append(contentsOf: bytes)
                    if attempt.received.count >= expect && winner == nil { winner = attempt }
                }
                stream.onClose = { error in
                    attempt.closed = true
                    attempt.error = error
                    live.remove(kind)
                }
                stream.start()
                stream.write(opening)
            }
        }
        if let multiplexer {
            multiplexer.dial(address, timeout: timeout) { result in started(result.map { $0 as ByteStream }, .utp) }
        }
        if choice != .utp {
            if let local {
                // A chosen source address needs the blocking connect (StreamChannel binds none).
                do throws(NetError) {
                    let connection = try TCPConnection.connect(to: address, timeout: timeout, from: SocketAddress(ipBytes: local.ipBytes, port: 0))
                    started(.success(StreamChannel(loop: loop, connection: connection)), .tcp)
                } catch { started(.failure(error), .tcp) }
            } else {
                StreamChannel.connect(loop: loop, to: address, timeout: timeout) { result in started(result.map { $0 as ByteStream }, .tcp) }
            }
        }
        while winner == nil && !live.isEmpty && !deadline.hasPassed {
            loop.runOnce(timeout: min(deadline.remaining, 0.05))
        }
        // No handshake in time: the caller words the failure from the best attempt we have.
        let chosen = winner ?? attempts.first { !$0.closed } ?? attempts.first
        for attempt in attempts where attempt !== chosen { attempt.stream.close() }
        guard let chosen else {
            for object in owned { (object as? UTPMultiplexer)?.shutdown(); (object as? DatagramPort)?.close() }
            throw errors[.tcp] ?? errors[.utp] ?? .timeout(what: "connecting to \(address)")
        }
        if chosen.stream.transport == .tcp { multiplexer?.shutdown() }
        let result = BlockingStream(loop: loop, stream: chosen.stream, received: chosen.received,
                                    owned: chosen.stream.transport == .utp ? owned : [])
        if chosen.closed {
            result.finished = true
            result.failure = chosen.error
        }
        return result
    }

    final class Attempt {
        let stream: ByteStream
        var received: [UInt8] = []
        var closed = false
        var error: NetError?
        init(stream: ByteStream) { self.stream = stream }
    }
}
