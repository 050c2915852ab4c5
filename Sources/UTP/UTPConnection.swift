/// One uTP connection as a state machine of datagrams and time (BEP 29), without I/O.
///
/// Feed it the peer's packets (`receive`), the clock (`tick`) and the application's bytes (`write`);
/// take what it wants sent (`takeOutbox`) and what it received in order (`takeReceived`). Times are
/// seconds on any monotonic clock, so tests drive it with a fake one.
///
/// Sequence numbers follow libutp and libtorrent: the initiator's SYN is seq 1; the acceptor's
/// SYN-ACK (a STATE) carries its next seq without consuming it, so after the SYN-ACK the initiator's
/// `ack_nr` is that seq − 1 (libtorrent silently drops data acked otherwise).
public struct UTPConnection: Sendable {
    public enum State: Sendable, Equatable {
        /// `closing`: we closed our side; data in flight and our FIN are resent until the peer acks them.
        case synSent, connected, closing, closed
    }

    struct SentPacket: Sendable {
        var seq: UInt16
        var kind: UTPPacket.Kind
        var payload: [UInt8]
        var sentAt: Double
        var transmissions: Int
        var acked = false
        /// Waiting to be sent again (after a timeout): not counted as in flight.
        var needsResend = false
    }

    public let configuration: UTPConfiguration
    /// The id the peer puts on packets to us, and the one we put on packets to it.
    public let receiveID: UInt16
    public let sendID: UInt16
    public let isInitiator: Bool
    public internal(set) var state: State
    /// Why the connection ended, when it ended badly.
    public internal(set) var error: UTPError?
    /// The peer sent FIN and every byte before it was received.
    public internal(set) var endOfStream = false
    let peerName: String

    // Sequence state.
    var seqNr: UInt16
    var ackNr: UInt16 = 0

    // Sending.
    var pending: [[UInt8]] = []
    var pendingOffset = 0
    public internal(set) var pendingBytes = 0
    var inFlight = PacketQueue()
    public internal(set) var bytesInFlight = 0
    var finSent = false
    public internal(set) var peerWindow = 1400
    var congestion: CongestionControl
    var rtoDeadline: Double?
    var consecutiveTimeouts = 0
    var duplicateAcks = 0
    var lastAckReceived: UInt16 = 0
    var zeroWindowSince: Double?
    var lastSentAt: Double

    // Receiving.
    var received: [UInt8] = []
    var outOfOrder: [UInt16: [UInt8]] = [:]
    var outOfOrderBytes = 0
    var eofSeq: UInt16?
    var needAck = false
    /// Held-back acks (`configuration.ackHoldBytes`): in-order payload not yet acked, the latest time
    /// the ack may go, whether something must be acked at once (a gap, a duplicate, a FIN, a window
    /// update), and how many bytes we now let pile up before acking (grows while the sender keeps up).
    var unackedBytes = 0
    var ackDue: Double?
    var ackNow = false
    var ackThreshold: Int
    /// In-order bytes per second from the peer, measured over `rateInterval`, to size our window.
    var receiveRate = 0.0
    var rateStart: Double?
    var rateBytes = 0
    var lastReceivedAt: Double
    /// Our clock minus the peer's timestamp on its last packet (µs), echoed as timestamp_difference.
    var replyDifference: UInt32 = 0
    var advertisedWindow = 0

    var outbox: [UTPPacket] = []

    /// Counts for statistics: packets that carried data, those already received, those ahead of a gap,
    /// STATEs sent, and packets we sent again.
    public internal(set) var dataPacketsReceived = 0
    public internal(set) var duplicatePackets = 0
    public internal(set) var outOfOrderPackets = 0
    public internal(set) var statesSent = 0
    public internal(set) var resentPackets = 0

    // MARK: - Opening

    /// Starts a connection to a peer: queues the SYN.
    public init(dialing receiveID: UInt16, peer: String, now: Double, configuration: UTPConfiguration = UTPConfiguration()) {
        self.configuration = configuration
        self.receiveID = receiveID
        self.sendID = receiveID &+ 1
        self.isInitiator = true
        self.state = .synSent
        self.peerName = peer
        self.seqNr = 1
        self.congestion = CongestionControl(configuration)
        self.ackThreshold = 2 * configuration.payloadSize
        self.lastSentAt = now
        self.lastReceivedAt = now
        inFlight.append(SentPacket(seq: seqNr, kind: .syn, payload: [], sentAt: now, transmissions: 1))
        emit(.syn, seq: seqNr, payload: [], now: now)
        seqNr &+= 1
        rtoDeadline = now + congestion.timeout
    }

    /// Accepts a peer's SYN: queues the SYN-ACK. `initialSeq` is our random first sequence number.
    public init(accepting syn: UTPPacket, initialSeq: UInt16, peer: String, now: Double,
                configuration: UTPConfiguration = UTPConfiguration()) {
        self.configuration = configuration
        self.receiveID = syn.connectionID &+ 1
        self.sendID = syn.connectionID
        self.isInitiator = false
        self.state = .connected
        self.peerName = peer
        self.seqNr = initialSeq
        self.ackNr = syn.seq
        self.congestion = CongestionControl(configuration)
        self.ackThreshold = 2 * configuration.payloadSize
        self.lastSentAt = now
        self.lastReceivedAt = now
        self.peerWindow = Int(syn.window)
        self.replyDifference = Self.micros(now) &- syn.timestamp
        emit(.state, seq: seqNr, payload: [], now: now)
    }

    // MARK: - Application side

    /// Queues bytes to send; they go out as the windows allow.
    public mutating func write(_ bytes: [UInt8], now: Double) {
        guard state == .synSent || state == .connected, !bytes.isEmpty else { return }
        pending.append(bytes)
        pendingBytes += bytes.count
        flush(now: now)
    }

    /// Takes the bytes received in order so far; reopening a shrunken window tells the peer.
    public mutating func takeReceived() -> [UInt8] {
        guard !received.isEmpty else { return [] }
        let bytes = received
        received = []
        if advertisedWindow < windowLimit / 2 { needAck = true; ackNow = true }
        return bytes
    }

    /// Gives back a buffer `takeReceived` returned, once its bytes are consumed: the next ones reuse its
    /// memory. A fresh array per delivery would cost page faults for every byte received (a delivery
    /// is often hundreds of KiB, beyond malloc's mmap threshold).
    public mutating func recycle(_ buffer: inout [UInt8]) {
        guard received.isEmpty, buffer.capacity > received.capacity else { return }
        buffer.removeAll(keepingCapacity: true)
        swap(&received, &buffer)
    }

    public var hasReceived: Bool { !received.isEmpty }

    /// Ends our side, as TCP's close does: bytes already written still go out, then a FIN; both are
    /// resent until the peer acks them (`closing`), then the connection is `closed`. Bytes the peer
    /// sends meanwhile are still acked and may still be taken.
    public mutating func close(now: Double) {
        switch state {
        case .closing, .closed:
            return
        case .synSent:
            state = .closed
            pending = []
            pendingBytes = 0
            clearDeadlines()
        case .connected:
            state = .closing
            flush(now: now)
        }
    }

    /// Answers a peer that sends to an unknown connection, or aborts ours.
    public mutating func reset(now: Double) {
        guard state != .closed else { return }
        emit(.reset, seq: seqNr, payload: [], now: now)
        state = .closed
        clearDeadlines()
    }

    /// The packets to send now, oldest first.
    public mutating func takeOutbox() -> [UTPPacket] {
        defer { outbox = [] }
        return outbox
    }

    /// Sends a STATE if something we received is still unacknowledged (call after a burst of `receive`).
    ///
    /// With `ackHoldBytes` set, in-order data is acked once `ackThreshold` bytes of it are here or
    /// `ackHoldTime` has passed, whichever is first: one STATE then covers dozens of DATA packets,
    /// which on a fast link costs both ends less than a STATE per read batch. The threshold doubles
    /// while the sender fills it and falls to a quarter of what came when the timer had to send the ack
    /// (the sender's window is smaller than what we wait for), so a slow, young or lossy connection
    /// gets several acks per window.
    public mutating func sendAckIfNeeded(now: Double) {
        guard needAck, state != .closed || endOfStream else { return }
        if configuration.ackHoldBytes > 0 && !ackNow {
            // Never wait for more than half of what the sender may have in flight: it keeps sending
            // the other half while the ack is on its way.
            if unackedBytes < min(ackThreshold, max(2 * configuration.payloadSize, windowLimit / 2)) {
                let due = ackDue ?? (now + configuration.ackHoldTime)
                ackDue = due
                if now < due { return }
                // The sender stopped short of the threshold: its window is about what came. Ack a
                // quarter of that from now on, so one lost ack does not leave it waiting for a timeout.
                ackThreshold = max(2 * configuration.payloadSize, min(ackThreshold / 2, unackedBytes / 4))
            } else {
                ackThreshold = min(configuration.ackHoldBytes, ackThreshold * 2)
            }
        }
        emit(.state, seq: seqNr, payload: [], now: now)
    }

    /// When `tick` next has something to do (a retransmission, keep-alive or timeout).
    public var nextDeadline: Double {
        guard state != .closed else { return .infinity }
        var due = lastSentAt + configuration.keepAliveInterval
        if let rto = rtoDeadline { due = min(due, rto) }
        if needAck, let ackDue { due = min(due, ackDue) }
        if let since = zeroWindowSince { due = min(due, since + min(1, configuration.zeroWindowTimeout)) }
        return due
    }

    // MARK: - Helpers

    static func micros(_ now: Double) -> UInt32 { UInt32(truncatingIfNeeded: Int64(now * 1_000_000)) }

    mutating func fail(_ error: UTPError) {
        guard state != .closed else { return }
        self.error = error
        state = .closed
        clearDeadlines()
    }

    /// A closed connection has nothing left to time.
    mutating func clearDeadlines() {
        rtoDeadline = nil
        ackDue = nil
        zeroWindowSince = nil
    }

    /// Our receive window: what is left of the buffer, within `windowLimit`.
    var window: Int { max(0, windowLimit - received.count - outOfOrderBytes) }

    /// The most we let the peer have in flight: twice what arrives per round trip of the path (the
    /// shortest seen: with the queues in it, the window would feed its own growth), as Linux sizes
    /// TCP's receive window, so a sender limited by it can double it each measurement; within
    /// `minReceiveWindow…receiveBuffer`. Without a round-trip sample yet, the whole buffer.
    ///
    /// Why not always the whole buffer: on a short path the sender's congestion window grows to
    /// whatever we allow, and a sender's cost per packet grows with the packets it has in flight
    /// (libtorrent scans them on every send), without the transfer going any faster.
    var windowLimit: Int {
        guard let rtt = congestion.minRTT, receiveRate > 0 else { return configuration.receiveBuffer }
        let wanted = 2 * receiveRate * rtt
        return min(configuration.receiveBuffer, max(configuration.minReceiveWindow, Int(min(wanted, Double(Int32.max)))))
    }

    mutating func measureRate(_ bytes: Int, now: Double) {
        guard let start = rateStart else { rateStart = now; rateBytes = 0; return }
        rateBytes += bytes
        let elapsed = now - start
        guard elapsed >= Self.rateInterval else { return }
        receiveRate = Double(rateBytes) / elapsed
        rateStart = now
        rateBytes = 0
    }

    static let rateInterval = 0.1

    /// Builds a packet with the current ack, window, timestamps and selective ACK, and queues it.
    mutating func emit(_ kind: UTPPacket.Kind, seq: UInt16, payload: [UInt8], now: Double) {
        advertisedWindow = window
        var packet = UTPPacket(kind: kind, connectionID: kind == .syn ? receiveID : sendID, timestamp: Self.micros(now),
                               timestampDifference: replyDifference, window: UInt32(advertisedWindow), seq: seq,
                               ack: kind == .syn ? 0 : ackNr, payload: payload[...])
        if kind != .syn, !outOfOrder.isEmpty { packet.selectiveAck = selectiveAckMask() }
        outbox.append(packet)
        if kind == .state { statesSent += 1 }
        lastSentAt = now
        if kind != .syn {
            // Every packet carries our ack: nothing is owed after it.
            needAck = false
            ackNow = false
            unackedBytes = 0
            ackDue = nil
        }
    }

    /// Bit i says `ack_nr + 2 + i` is here; whole 4-byte words, at most 32 bytes (256 packets).
    func selectiveAckMask() -> [UInt8] {
        var farthest = 0
        for seq in outOfOrder.keys { farthest = max(farthest, Seq.distance(from: ackNr, to: seq)) }
        let bits = min(max(farthest - 1, 1), 256)
        var mask = [UInt8](repeating: 0, count: (bits + 31) / 32 * 4)
        for seq in outOfOrder.keys {
            let index = Seq.distance(from: ackNr, to: seq) - 2
            if index >= 0 && index < mask.count * 8 { mask[index / 8] |= 1 << UInt8(index % 8) }
        }
        return mask
    }
}
