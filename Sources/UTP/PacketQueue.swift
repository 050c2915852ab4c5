/// Sent packets awaiting acknowledgement, oldest first; sequence numbers are consecutive.
struct PacketQueue: Sendable {
    private var storage: [UTPConnection.SentPacket] = []
    private var head = 0

    var count: Int { storage.count - head }
    var isEmpty: Bool { head == storage.count }
    /// The seq of the oldest packet (only when not empty).
    var firstSeq: UInt16 { storage[head].seq }

    subscript(index: Int) -> UTPConnection.SentPacket {
        get { storage[head + index] }
        set { storage[head + index] = newValue }
    }

    mutating func append(_ packet: UTPConnection.SentPacket) { storage.append(packet) }

    mutating func removeFirst() -> UTPConnection.SentPacket {
        let packet = storage[head]
        head += 1
        // Compact now and then so removal stays O(1) amortised.
        if head > 1024 && head * 2 > storage.count {
            storage.removeFirst(head)
            head = 0
        } else if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        }
        return packet
    }
}

/// Round-trip estimate and the LEDBAT congestion window (BEP 29): grow while the one-way queuing
/// delay the peer measures stays under the target, shrink as it rises, halve on loss.
struct CongestionControl: Sendable {
    let configuration: UTPConfiguration
    var window: Double
    var slowStart = true
    var slowStartThreshold: Double
    var rtt: Double?
    var rttVariance = 0.0
    /// The shortest round trip seen: the path's own, without the queues (ours and the peer's) in it.
    var minRTT: Double?
    var timeout: Double
    /// Minimum delay samples per minute, for the base delay (history of two minutes).
    var currentMinuteStart: Double?
    var currentMinimum: UInt32?
    var previousMinimum: UInt32?
    /// Our latest queuing delay in seconds (sample − base).
    var ourDelay = 0.0
    /// Loss halves the window at most once per window of data: seq at which the last cut happened.
    var lossEpochEnd: UInt16?

    init(_ configuration: UTPConfiguration) {
        self.configuration = configuration
        self.window = Double(max(configuration.minWindow, 4 * configuration.payloadSize))
        self.slowStartThreshold = Double(configuration.maxWindow)
        self.timeout = configuration.initialTimeout
    }

    mutating func rttSample(_ sample: Double) {
        minRTT = min(minRTT ?? sample, sample)
        if let current = rtt {
            rttVariance += (abs(current - sample) - rttVariance) / 4
            rtt = current + (sample - current) / 8
        } else {
            rtt = sample
            rttVariance = sample / 2
        }
        resetBackoff()
    }

    /// The timeout from the round-trip estimate, without the doubling of earlier timeouts: called on
    /// each sample and whenever an ack moves forward (as Linux does). Keeping the doubling until a
    /// packet sent once is acked (Karn) lets it climb on a lossy path, where most acked packets are
    /// resent ones, to seconds per lost packet.
    mutating func resetBackoff() {
        guard let rtt else { return }
        timeout = min(configuration.maxTimeout, max(configuration.minTimeout, rtt + 4 * rttVariance))
    }

    /// A timestamp_difference from the peer: how long our packets took, plus the clocks' offset.
    mutating func delaySample(_ sample: UInt32, now: Double) {
        if currentMinuteStart == nil || now - currentMinuteStart! >= 60 {
            previousMinimum = currentMinimum
            currentMinimum = nil
            currentMinuteStart = now
        }
        currentMinimum = currentMinimum.map { Int32(bitPattern: sample &- $0) < 0 ? sample : $0 } ?? sample
        var base = currentMinimum!
        if let previous = previousMinimum, Int32(bitPattern: previous &- base) < 0 { base = previous }
        ourDelay = Double(max(0, Int32(bitPattern: sample &- base))) / 1_000_000
    }

    mutating func acked(bytes: Int) {
        guard bytes > 0 else { return }
        let target = configuration.targetDelay
        if slowStart && ourDelay > target / 2 {
            slowStart = false
            slowStartThreshold = window
        }
        if slowStart {
            window += Double(bytes)
            if window >= slowStartThreshold { slowStart = false }
        } else {
            let offTarget = (target - ourDelay) / target
            window += configuration.gainPerRTT * offTarget * Double(bytes) / max(window, 1)
        }
        clamp()
    }

    /// A lost packet (seq) with `nextSeq` the next one to be sent: halve once per window.
    mutating func lost(seq: UInt16, nextSeq: UInt16) {
        if let end = lossEpochEnd, Seq.distance(from: end, to: seq) < 0 { return }
        lossEpochEnd = nextSeq
        window /= 2
        slowStart = false
        slowStartThreshold = window
        clamp()
    }

    /// The retransmission timer fired: back to one small window, and wait longer next time.
    mutating func timedOut() {
        slowStartThreshold = max(window / 2, Double(configuration.minWindow))
        window = Double(configuration.minWindow)
        slowStart = true
        timeout = min(configuration.maxTimeout, timeout * 2)
    }

    private mutating func clamp() {
        window = min(Double(configuration.maxWindow), max(Double(configuration.minWindow), window))
    }
}
