import Net

/// A uTP connection as a `ByteStream` (transport `.utp`): the peer session runs over it as over TCP.
///
/// Created by a `UTPMultiplexer` (dialing or accepting); all calls on the loop's thread.
public final class UTPStream: ByteStream {
    public let remote: SocketAddress
    public var transport: TransportKind { .utp }
    public var onData: ((ArraySlice<UInt8>) -> Void)?
    public var onClose: ((NetError?) -> Void)?
    public var onDrained: (() -> Void)?
    public var pausedReading = false {
        didSet { if oldValue && !pausedReading { multiplexer?.markDirty(self) } }
    }

    var connection: UTPConnection
    /// Strong: a one-shot stream keeps its port open; the cycle ends when the multiplexer drops it.
    var multiplexer: UTPMultiplexer?
    let key: UTPMultiplexer.Key
    var started = false
    var closedLocally = false
    var ended = false
    /// Accepted but no data yet from the initiator: not handed to `onAccept` (bounds SYN floods).
    var awaitingFirstData: Bool
    var createdAt: Double
    var wasBuffered = false
    /// Queued for the multiplexer's next `flushDirty`.
    var isDirty = false
    var dialCompletion: ((Result<UTPStream, NetError>) -> Void)?

    init(connection: UTPConnection, remote: SocketAddress, key: UTPMultiplexer.Key, multiplexer: UTPMultiplexer, now: Double) {
        self.connection = connection
        self.remote = remote
        self.key = key
        self.multiplexer = multiplexer
        self.awaitingFirstData = !connection.isInitiator
        self.createdAt = now
    }

    public var isOpen: Bool { !closedLocally && !ended }
    public var bufferedBytes: Int { connection.pendingBytes }
    /// Bytes sent and not yet acknowledged.
    public var bytesInFlight: Int { connection.bytesInFlight }

    public func start() {
        started = true
        multiplexer?.markDirty(self)
    }

    public func write(_ bytes: [UInt8]) {
        guard isOpen, let multiplexer else { return }
        connection.write(bytes, now: multiplexer.clock())
        multiplexer.sendOutbox(of: self)
        if connection.pendingBytes > 0 { wasBuffered = true }
    }

    public func close() {
        guard !closedLocally else { return }
        closedLocally = true
        guard let multiplexer else { return }
        if !ended { connection.reset(now: multiplexer.clock()) }
        multiplexer.sendOutbox(of: self)
        multiplexer.remove(self)
    }

    /// A dial that cannot succeed (the connection closed, or the multiplexer learnt from ICMP that no
    /// one listens there): ends it with `error`.
    func failDial(_ error: NetError) {
        guard let completion = dialCompletion, let multiplexer else { return }
        dialCompletion = nil
        ended = true
        multiplexer.remove(self)
        completion(.failure(error))
    }

    /// Called by the multiplexer after packets, ticks or unpausing: send, deliver, report.
    func service(now: Double) {
        guard let multiplexer, !closedLocally else { return }
        // The ack goes last: the reader often answers what it is handed (a peer answers blocks with
        // requests), and that DATA packet carries the ack, so no STATE of its own is needed.
        defer {
            if !closedLocally {
                connection.sendAckIfNeeded(now: now)
                multiplexer.sendOutbox(of: self)
                multiplexer.holdAck(self)
            }
        }
        multiplexer.sendOutbox(of: self)
        if let completion = dialCompletion {
            if connection.state == .connected {
                dialCompletion = nil
                completion(.success(self))
            } else if connection.state == .closed {
                failDial(Self.netError(connection.error, remote))
                return
            }
        }
        if started && !pausedReading && connection.hasReceived {
            var bytes = connection.takeReceived()  // may owe the peer a window update: sent last
            onData?(bytes[...])
            if closedLocally { return }
            connection.recycle(&bytes)
        }
        if wasBuffered && connection.pendingBytes == 0 {
            wasBuffered = false
            onDrained?()
            if closedLocally { return }
        }
        let finished = connection.endOfStream && !connection.hasReceived
        if started && !ended && (connection.state == .closed || finished) {
            ended = true
            multiplexer.remove(self)
            onClose?(finished && connection.error == nil ? nil : Self.netError(connection.error, remote))
        }
    }

    static func netError(_ error: UTPError?, _ remote: SocketAddress) -> NetError {
        switch error {
        case .connectTimeout(_, let seconds)?: return .timeout(what: "connecting to \(remote) over uTP (after \(seconds) s)")
        case .retransmitTimeout?, .zeroWindow?: return .timeout(what: "on uTP connection to \(remote): \(error!)")
        case .reset?, .malformed?, nil: return .closed(address: remote.description)
        }
    }
}
