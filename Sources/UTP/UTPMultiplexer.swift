import Glibc
import Net

/// All uTP connections on one UDP port: routes datagrams by (address, connection id), accepts
/// SYNs, dials, and drives the connections' timers. Shares the port with the DHT (BEP 5): it
/// attaches to `DatagramPort.onDatagrams`, which never sees KRPC.
///
/// Hostile input is bounded: undecodable datagrams and packets for unknown connections are
/// dropped (DATA/FIN get a RESET), accepted connections that send nothing are dropped after
/// `pendingTimeout`, and at most `maxPending` of them (and `maxConnections` in all) exist at once.
public final class UTPMultiplexer {
    struct Key: Hashable { var address: SocketAddress; var id: UInt16 }

    /// One packet in or out, for `--trace`.
    public struct TraceRecord {
        public var outgoing: Bool
        public var peer: SocketAddress
        public var packet: UTPPacket
    }

    public let port: DatagramPort
    public var configuration: UTPConfiguration
    /// Called with each accepted connection once its first data has arrived; set callbacks, then `start()`.
    public var onAccept: ((UTPStream) -> Void)?
    public var onTrace: ((TraceRecord) -> Void)?
    public var maxPending = 64
    public var maxConnections = 4096
    public var pendingTimeout = 10.0
    /// The clock (seconds); tests may substitute one.
    public lazy var clock: () -> Double = { [unowned loop = port.loop] in loop.now }
    public private(set) var malformedDatagrams = 0
    public private(set) var unknownConnectionPackets = 0

    var streams: [Key: UTPStream] = [:]
    /// The stream the last datagram went to: a batch holds runs from the same sender.
    var lastStream: UTPStream?
    var pendingCount = 0
    /// Streams that took packets since they were last serviced (each once: `UTPStream.isDirty`).
    var dirty: [UTPStream] = []
    /// Within `handle(_ batch:)`, which services the dirty streams itself when the batch is done.
    var handlingBatch = false
    var flushScheduled = false
    var tickTimer: EventLoop.TimerID?
    /// Streams holding back an ack, and the one timer that sends the earliest when it falls due.
    var heldAcks: [ObjectIdentifier: UTPStream] = [:]
    var ackTimer: EventLoop.TimerID?
    var ackTimerDue = Double.infinity
    var random = SystemRandomNumberGenerator()

    public init(port: DatagramPort, configuration: UTPConfiguration = UTPConfiguration()) {
        self.port = port
        self.configuration = configuration
        // A diagnostic for tuning (scripts/bench-utp compares): TT_UTP_ACK_HOLD=BYTES (0: ack every batch).
        if let hold = getenv("TT_UTP_ACK_HOLD").flatMap({ Int(String(cString: $0)) }) {
            self.configuration.ackHoldBytes = max(0, hold)
        }
        // Room for bursts: a fast sender fills the default 208 KiB receive buffer in milliseconds, and
        // the kernel counts ~2–3 KiB per datagram, so a few peers' full windows (1 MiB each) need tens
        // of MiB while we wait to be scheduled. A drop costs the sender half its window. Beyond
        // net.core.rmem_max only with CAP_NET_ADMIN (SO_RCVBUFFORCE); otherwise as much as allowed.
        var size: Int32 = 32 << 20
        let length = socklen_t(MemoryLayout<Int32>.size)
        if setsockopt(port.fileDescriptor, SOL_SOCKET, SO_RCVBUFFORCE, &size, length) != 0 {
            setsockopt(port.fileDescriptor, SOL_SOCKET, SO_RCVBUF, &size, length)
        }
        size = 4 << 20
        setsockopt(port.fileDescriptor, SOL_SOCKET, SO_SNDBUF, &size, length)
        port.onDatagrams = { [weak self] batch in self?.handle(batch) }
        port.onUnreachable = { [weak self] address, error in self?.unreachable(address, error: error) }
    }

    /// ICMP says nothing listens at `address` (or it cannot be reached): dials to it fail now, so
    /// `auto` goes on to TCP at once instead of after its fallback delay.
    func unreachable(_ address: SocketAddress, error: Int32) {
        let reason = error == ECONNREFUSED ? "no uTP listener there (ICMP port unreachable)" : String(cString: strerror(error))
        for stream in streams.values where stream.remote == address && stream.dialCompletion != nil {
            stream.failDial(.unreachable(address: address.description, reason: reason))
        }
    }

    public var loop: EventLoop { port.loop }
    public var connectionCount: Int { streams.count }

    /// Starts a uTP connect; `completion` runs on the loop with the connected stream or the error.
    public func dial(_ address: SocketAddress, timeout: Double, completion: @escaping (Result<UTPStream, NetError>) -> Void) {
        guard address.family == port.family else {
            loop.schedule(after: 0) { completion(.failure(.unreachable(address: address.description, reason: "wrong address family for this UDP port"))) }
            return
        }
        var id = UInt16.random(in: 0...UInt16.max, using: &random)
        while streams[Key(address: address, id: id)] != nil { id &+= 2 }
        var settings = configuration
        settings.connectTimeout = timeout
        let now = clock()
        let connection = UTPConnection(dialing: id, peer: address.description, now: now, configuration: settings)
        let stream = UTPStream(connection: connection, remote: address, key: Key(address: address, id: id), multiplexer: self, now: now)
        stream.dialCompletion = completion
        streams[stream.key] = stream
        sendOutbox(of: stream)
        scheduleTicks()
    }

    /// Packet counts over all connections, closed ones included.
    public struct Totals: Sendable, CustomStringConvertible {
        public var dataPackets = 0, duplicatePackets = 0, outOfOrderPackets = 0, statesSent = 0, resentPackets = 0
        mutating func add(_ c: UTPConnection) {
            dataPackets += c.dataPacketsReceived
            duplicatePackets += c.duplicatePackets
            outOfOrderPackets += c.outOfOrderPackets
            statesSent += c.statesSent
            resentPackets += c.resentPackets
        }
        public var description: String {
            "data \(dataPackets) duplicate \(duplicatePackets) out-of-order \(outOfOrderPackets) states-sent \(statesSent) resent \(resentPackets)"
        }
    }
    var closedTotals = Totals()

    public var totals: Totals {
        var totals = closedTotals
        for stream in streams.values { totals.add(stream.connection) }
        return totals
    }

    /// Closes every connection (sending FINs) and detaches from the port.
    public func shutdown() {
        // A diagnostic for tuning (scripts/bench-utp): the counts on stderr.
        reportStats("\(totals), datagrams \(port.datagramsReceived) in \(port.batchesReceived) batches, \(port.datagramsSent) sent")
        for stream in Array(streams.values) { stream.close() }
        if let tickTimer { loop.cancel(tickTimer) }
        tickTimer = nil
        if let ackTimer { loop.cancel(ackTimer) }
        ackTimer = nil
        heldAcks = [:]
        port.onDatagrams = nil
        port.onUnreachable = nil
    }

    // MARK: - Datagrams

    /// A batch of datagrams read together (valid during the call: the port's receive buffer), then
    /// the acks: one per connection per batch, before the next wait. One clock read for the batch.
    func handle(_ batch: [DatagramPort.Datagram]) {
        let now = clock()
        let arrival = kernelArrival(now: now)
        handlingBatch = true
        for datagram in batch { handle(datagram.bytes, from: datagram.from, now: now, arrival: arrival) }
        handlingBatch = false
        flushDirty()
    }

    /// One datagram; `arrival`: when its batch reached the kernel, when known.
    func handle(_ bytes: UnsafeRawBufferPointer, from: SocketAddress, now: Double, arrival: Double?) {
        let packet: UTPPacket.Header, payloadStart: Int
        do { (packet, payloadStart) = try UTPPacket.Header.decode(bytes) } catch { malformedDatagrams += 1; return }
        let payload = UnsafeRawBufferPointer(rebasing: bytes[payloadStart...])
        if let onTrace { onTrace(TraceRecord(outgoing: false, peer: from, packet: UTPPacket(header: packet, payload: ArraySlice(payload)))) }
        if packet.kind == .syn {
            let key = Key(address: from, id: packet.connectionID &+ 1)
            if let stream = streams[key] {
                stream.connection.receive(packet, payload: payload, now: now)
                markDirty(stream)
            } else if onAccept != nil && pendingCount < maxPending && streams.count < maxConnections {
                let connection = UTPConnection(accepting: UTPPacket(header: packet),
                                               initialSeq: UInt16.random(in: 0...UInt16.max, using: &random),
                                               peer: from.description, now: now, configuration: configuration)
                let stream = UTPStream(connection: connection, remote: from, key: key, multiplexer: self, now: now)
                streams[key] = stream
                pendingCount += 1
                sendOutbox(of: stream)
                scheduleTicks()
            }
            return
        }
        guard let stream = stream(id: packet.connectionID, from: from) else {
            unknownConnectionPackets += 1
            if packet.kind == .data || packet.kind == .fin {
                send(UTPPacket(kind: .reset, connectionID: packet.connectionID, timestamp: UTPConnection.micros(now),
                               seq: UInt16.random(in: 0...UInt16.max, using: &random), ack: packet.seq), to: from)
            }
            return
        }
        stream.connection.receive(packet, payload: payload, now: now, arrival: arrival)
        if stream.awaitingFirstData && stream.connection.hasReceived {
            stream.awaitingFirstData = false
            pendingCount -= 1
            onAccept?(stream)
        }
        markDirty(stream)
    }

    /// The connection a datagram is for; the last one found is checked first (datagrams come in runs).
    func stream(id: UInt16, from: SocketAddress) -> UTPStream? {
        if let lastStream, lastStream.key.id == id, lastStream.key.address == from { return lastStream }
        lastStream = streams[Key(address: from, id: id)]
        return lastStream
    }

    /// When the datagram just read reached the kernel, on our clock: the port's scheduling lag for its batch.
    func kernelArrival(now: Double) -> Double? {
        port.receiveLag.map { now - $0 }
    }

    func send(_ packet: UTPPacket, to address: SocketAddress) {
        onTrace?(TraceRecord(outgoing: true, peer: address, packet: packet))
        port.send(packet.encoded(), to: address)
    }

    func sendOutbox(of stream: UTPStream) {
        for packet in stream.connection.takeOutbox() { send(packet, to: stream.remote) }
    }

    /// Services the stream at the end of this loop turn, once however many packets arrived.
    func markDirty(_ stream: UTPStream) {
        guard !stream.isDirty else { return }
        stream.isDirty = true
        dirty.append(stream)
        guard !handlingBatch && !flushScheduled else { return }
        flushScheduled = true
        loop.schedule(after: 0) { [weak self] in
            self?.flushScheduled = false
            self?.flushDirty()
        }
    }

    func flushDirty() {
        guard !dirty.isEmpty else { return }
        let now = clock()
        let batch = dirty
        dirty = []
        for stream in batch {
            stream.isDirty = false
            if stream.awaitingFirstData {
                // Not handed out yet: just answer (acks, SYN-ACK again).
                stream.connection.sendAckIfNeeded(now: now)
                sendOutbox(of: stream)
                holdAck(stream)
                if stream.connection.state == .closed { remove(stream) }
            } else {
                stream.service(now: now)
            }
        }
    }

    /// A stream whose ack waits (`UTPConnection.ackDue`): the ack timer sends it when due, unless a
    /// packet of ours carries it first. Far finer than the 50 ms tick, which is for retransmissions.
    func holdAck(_ stream: UTPStream) {
        guard let due = stream.connection.ackDue, stream.connection.state != .closed else { return }
        heldAcks[ObjectIdentifier(stream)] = stream
        guard due < ackTimerDue else { return }
        if let ackTimer { loop.cancel(ackTimer) }
        ackTimerDue = due
        ackTimer = loop.schedule(after: max(0, due - clock())) { [weak self] in self?.sendHeldAcks() }
    }

    func sendHeldAcks() {
        ackTimer = nil
        ackTimerDue = .infinity
        let now = clock()
        let held = heldAcks
        heldAcks = [:]
        for stream in held.values where streams[stream.key] === stream {
            stream.connection.sendAckIfNeeded(now: now)
            sendOutbox(of: stream)
            holdAck(stream)  // not due yet: wait again
        }
    }

    /// A diagnostic for tuning (scripts/bench-utp): with TT_UTP_STATS set, packet counts at shutdown and
    /// each connection's window, round trip and rate when it ends, on stderr.
    let reportsStats = getenv("TT_UTP_STATS") != nil

    func reportStats(_ text: @autoclosure () -> String) {
        guard reportsStats else { return }
        let line = "utp: \(text())\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }

    func remove(_ stream: UTPStream) {
        heldAcks[ObjectIdentifier(stream)] = nil
        if lastStream === stream { lastStream = nil }
        guard streams[stream.key] === stream else { return }
        let c = stream.connection  // how it ended, for the tuning diagnostic
        reportStats("\(stream.remote): window \(c.windowLimit), rtt \(c.congestion.rtt ?? -1) (min \(c.congestion.minRTT ?? -1)), rate \(Int(c.receiveRate))")
        closedTotals.add(stream.connection)
        streams[stream.key] = nil
        if stream.awaitingFirstData { pendingCount -= 1; stream.awaitingFirstData = false }
    }

    // MARK: - Timers

    /// One timer for all connections, every 50 ms while any exists.
    func scheduleTicks() {
        guard tickTimer == nil else { return }
        tickTimer = loop.schedule(after: 0.05) { [weak self] in
            guard let self else { return }
            self.tickTimer = nil
            self.tick()
            if !self.streams.isEmpty { self.scheduleTicks() }
        }
    }

    func tick() {
        let now = clock()
        for stream in Array(streams.values) {
            if stream.awaitingFirstData && now - stream.createdAt > pendingTimeout {
                remove(stream)
                continue
            }
            guard now >= stream.connection.nextDeadline else { continue }
            stream.connection.tick(now: now)
            if stream.awaitingFirstData {
                sendOutbox(of: stream)
                if stream.connection.state == .closed { remove(stream) }
            } else {
                stream.service(now: now)
            }
        }
    }
}
