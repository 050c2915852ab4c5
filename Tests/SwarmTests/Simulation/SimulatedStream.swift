import Net

/// One end of an in-memory connection on a virtual-clock `EventLoop`: a `ByteStream` like TCP's,
/// whose bytes take time to go out (the lane's rate) and to arrive (its latency).
///
/// Each write is cut into segments; a segment departs when the lane is free and its bytes have
/// been "sent" at the lane's rate, and arrives `latency` later. Until it departs it counts in
/// `bufferedBytes` (so back-pressure and `onDrained` behave as on a socket). Everything happens
/// on loop timers, so the order of events is fixed by the schedule alone.
final class SimulatedStream: ByteStream {
    /// One direction of a connection.
    struct Lane {
        /// Bytes per second (infinity: no limit).
        var rate: Double
        /// Seconds from departure to arrival.
        var latency: Double
        /// Largest piece a write is cut into.
        var segmentSize = 16 * 1024 + 13
    }

    let loop: EventLoop
    let remote: SocketAddress
    let local: SocketAddress
    var transport: TransportKind { .tcp }
    private(set) var isOpen = true
    private(set) var bufferedBytes = 0
    var pausedReading = false {
        didSet { if !pausedReading && oldValue { scheduleHeldDelivery() } }
    }
    var onData: ((ArraySlice<UInt8>) -> Void)?
    var onClose: ((NetError?) -> Void)?
    var onDrained: (() -> Void)?
    /// Sees every write as it is made (the simulation taps the engine's side to log what it sent).
    var onWrite: (([UInt8]) -> Void)?

    /// The other end.
    weak var peer: SimulatedStream?
    var outgoing: Lane
    /// When the outgoing lane finishes sending what it has been given.
    private var laneFreeAt: Double
    /// When the last segment that already departed arrives at the other end.
    private var lastArrival: Double
    private var started = false
    /// Bytes that arrived before `start()` or while paused.
    private var held: [ArraySlice<UInt8>] = []
    private var heldDeliveryScheduled = false
    /// The other end finished while bytes were still held here: the end comes after them.
    private var endAfterHeld: NetError??
    /// Totals for the tests.
    private(set) var bytesWritten: Int64 = 0
    private(set) var bytesDelivered: Int64 = 0

    init(loop: EventLoop, local: SocketAddress, remote: SocketAddress, outgoing: Lane) {
        self.loop = loop
        self.local = local
        self.remote = remote
        self.outgoing = outgoing
        self.laneFreeAt = loop.now
        self.lastArrival = loop.now
    }

    func start() {
        guard !started else { return }
        started = true
        scheduleHeldDelivery()
    }

    func write(_ bytes: [UInt8]) {
        guard isOpen, !bytes.isEmpty else { return }
        bytesWritten += Int64(bytes.count)
        onWrite?(bytes)
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + outgoing.segmentSize)
            send(bytes[offset..<end])
            offset = end
        }
    }

    private func send(_ segment: ArraySlice<UInt8>) {
        bufferedBytes += segment.count
        let sendTime = outgoing.rate.isFinite ? Double(segment.count) / outgoing.rate : 0
        let departure = max(loop.now, laneFreeAt) + sendTime
        laneFreeAt = departure
        let arrival = departure + outgoing.latency
        loop.schedule(at: departure) { [self] in
            // Closed before it left: the bytes are dropped, as a socket drops its send buffer.
            guard isOpen else { return }
            bufferedBytes -= segment.count
            lastArrival = max(lastArrival, arrival)
            loop.schedule(at: arrival) { [weak peer = self.peer] in peer?.arrive(segment) }
            if bufferedBytes == 0 { onDrained?() }
        }
    }

    private func arrive(_ segment: ArraySlice<UInt8>) {
        guard isOpen else { return }
        if !started || pausedReading || !held.isEmpty {
            held.append(segment)
            if started && !pausedReading { scheduleHeldDelivery() }
            return
        }
        bytesDelivered += Int64(segment.count)
        onData?(segment)
    }

    private func scheduleHeldDelivery() {
        guard !heldDeliveryScheduled, !held.isEmpty else { return }
        heldDeliveryScheduled = true
        loop.schedule(after: 0) { [self] in
            heldDeliveryScheduled = false
            while isOpen && started && !pausedReading && !held.isEmpty {
                let segment = held.removeFirst()
                bytesDelivered += Int64(segment.count)
                onData?(segment)
            }
            if isOpen && held.isEmpty, let error = endAfterHeld {
                endAfterHeld = nil
                remoteEnded(error)
            }
        }
    }

    /// Closes at once: what has not departed is dropped; the other end sees an orderly end of
    /// stream after the bytes that did depart.
    func close() {
        end(with: nil)
    }

    /// Like `close()`, but the other end sees the connection reset (an error) instead of an end.
    func reset() {
        end(with: .closed(address: local.description))
    }

    private func end(with error: NetError?) {
        guard isOpen else { return }
        isOpen = false
        bufferedBytes = 0
        held = []
        let when = max(loop.now + outgoing.latency, lastArrival)
        loop.schedule(at: when) { [weak peer = self.peer] in peer?.remoteEnded(error) }
    }

    private func remoteEnded(_ error: NetError?) {
        guard isOpen else { return }
        // An orderly end waits behind bytes held for a reader that has not taken them yet.
        if error == nil && !held.isEmpty {
            endAfterHeld = .some(nil)
            return
        }
        isOpen = false
        held = []
        bufferedBytes = 0
        onClose?(error)
    }
}
