/// Tunables of a uTP connection; defaults suit real swarms (BEP 29, LEDBAT with a 100 ms target).
public struct UTPConfiguration: Sendable {
    /// Payload bytes per DATA packet: conservative, so a packet fits any path's MTU (BEP 29 suggests ~1 400).
    public var payloadSize = 1400
    /// Bytes we buffer for the reader (delivered or out of order): the largest window we advertise.
    public var receiveBuffer = 1 << 20
    /// The smallest window we advertise once it is sized to the peer's rate × round trip.
    public var minReceiveWindow = 128 << 10
    /// LEDBAT's one-way queuing-delay target.
    public var targetDelay = 0.100
    /// Congestion window growth per round trip at zero queuing delay.
    public var gainPerRTT = 3000.0
    /// Congestion window bounds, in bytes.
    public var minWindow = 2 * 1400
    public var maxWindow = 4 << 20
    /// Retransmission timeout bounds (the RTO starts at `initialTimeout`).
    public var initialTimeout = 1.0
    public var minTimeout = 0.3
    public var maxTimeout = 30.0
    /// Retransmissions of one packet before the connection is given up.
    public var maxRetransmissions = 6
    /// A SYN unanswered this long fails the connect.
    public var connectTimeout = 6.0
    /// A peer window of zero for this long fails the connection.
    public var zeroWindowTimeout = 60.0
    /// An idle connection sends a STATE this often (keeps NAT mappings open).
    public var keepAliveInterval = 29.0
    /// In-order bytes we may receive before acking them (0: ack every read batch), and how long an
    /// ack may wait for them. Fewer STATEs cost the sender less; losses and gaps are acked at once.
    public var ackHoldBytes = 128 << 10
    public var ackHoldTime = 0.002
    /// Out-of-order packets we keep beyond the next expected one.
    public var maxReorder = 2048

    public init() {}
}
