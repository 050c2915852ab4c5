@testable import UTP

/// Two uTP ends joined by a simulated network with loss, delay and reordering, on a fake clock.
/// Every packet goes through the byte codec, as on a real wire.
struct SimulatedLink {
    struct InTransit { var due: Double; var toB: Bool; var bytes: [UInt8]; var order: Int }
    var a: UTPConnection
    var b: UTPConnection?
    var now = 0.0
    var loss: Double
    var delay: Double
    var jitter: Double
    /// A bottleneck of this many bytes per second each way (nil: none): packets leave it one after
    /// another, so a burst arrives spread out and in order, as on a real path.
    var bandwidth: Double?
    var lastDeparture: [Bool: Double] = [:]
    var random: SplitMix
    var inTransit: [InTransit] = []
    var order = 0
    var receivedByA: [UInt8] = []
    var receivedByB: [UInt8] = []
    var packetsSent = 0
    var configuration: UTPConfiguration
    /// Rewrites or drops a datagram on its way (hostile tests); nil drops it.
    var tamper: ((_ bytes: [UInt8], _ toB: Bool) -> [UInt8]?)?

    init(loss: Double = 0, delay: Double = 0.001, jitter: Double = 0, bandwidth: Double? = nil, seed: UInt64 = 1,
         configuration: UTPConfiguration = UTPConfiguration()) {
        self.loss = loss
        self.delay = delay
        self.jitter = jitter
        self.bandwidth = bandwidth
        self.random = SplitMix(seed: seed)
        self.configuration = configuration
        a = UTPConnection(dialing: 1000, peer: "b", now: 0, configuration: configuration)
    }

    mutating func carry(_ packets: [UTPPacket], toB: Bool) {
        for packet in packets {
            packetsSent += 1
            var bytes = packet.encoded()
            if let tamper { guard let changed = tamper(bytes, toB) else { continue }; bytes = changed }
            if random.unit() < loss { continue }
            order += 1
            var departure = now
            if let bandwidth {
                departure = max(now, lastDeparture[toB] ?? 0) + Double(bytes.count) / bandwidth
                lastDeparture[toB] = departure
            }
            inTransit.append(InTransit(due: departure + delay + random.unit() * jitter, toB: toB, bytes: bytes, order: order))
        }
    }

    mutating func pump() {
        carry(a.takeOutbox(), toB: true)
        if let packets = b?.takeOutbox() { carry(packets, toB: false) }
    }

    /// Runs until `done` or the fake clock passes `limit`; returns whether `done` held.
    mutating func run(until limit: Double, _ done: (inout SimulatedLink) -> Bool) -> Bool {
        pump()
        while now < limit {
            if done(&self) { return true }
            var next = min(limit, a.nextDeadline)
            if let b { next = min(next, b.nextDeadline) }
            if let first = inTransit.min(by: { ($0.due, $0.order) < ($1.due, $1.order) }) { next = min(next, first.due) }
            now = max(now, next)
            let due = inTransit.filter { $0.due <= now }.sorted { ($0.due, $0.order) < ($1.due, $1.order) }
            inTransit.removeAll { $0.due <= now }
            for item in due {
                guard let packet = try? UTPPacket(decoding: item.bytes) else { continue }
                if item.toB {
                    if b == nil, packet.kind == .syn {
                        b = UTPConnection(accepting: packet, initialSeq: 40000, peer: "a", now: now, configuration: configuration)
                    } else {
                        b?.receive(packet, now: now)
                    }
                } else {
                    a.receive(packet, now: now)
                }
            }
            a.sendAckIfNeeded(now: now)
            b?.sendAckIfNeeded(now: now)
            a.tick(now: now)
            b?.tick(now: now)
            receivedByA += a.takeReceived()
            if var end = b { receivedByB += end.takeReceived(); end.sendAckIfNeeded(now: now); b = end }
            a.sendAckIfNeeded(now: now)
            pump()
        }
        return done(&self)
    }
}

/// A small seeded generator, so a failing run can be replayed.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) } }
}
