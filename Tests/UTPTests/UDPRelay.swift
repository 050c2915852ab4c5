import Net
@testable import UTP

/// A UDP relay on the test's loop that drops and delays datagrams between one client and a server,
/// so two real uTP ends talk through loss and delay on loopback.
final class UDPRelay {
    let port: DatagramPort
    let server: SocketAddress
    var client: SocketAddress?
    var loss: Double
    var delay: Double
    var random: SplitMix
    var forwarded = 0
    var dropped = 0

    init(loop: EventLoop, server: SocketAddress, loss: Double, delay: Double, seed: UInt64) throws {
        port = try DatagramPort(loop: loop, bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        self.server = server
        self.loss = loss
        self.delay = delay
        random = SplitMix(seed: seed)
        port.onDatagrams = { [unowned self] batch in
            for datagram in batch { self.forward(Array(datagram.bytes), from: datagram.from) }
        }
    }

    var address: SocketAddress { port.localAddress! }

    func forward(_ bytes: [UInt8], from: SocketAddress) {
        if from != server { client = from }
        // The server's datagrams go to the last client; before any client has spoken, nowhere.
        if let target = from == server ? client : server { relay(bytes, to: target) }
    }

    private func relay(_ bytes: [UInt8], to target: SocketAddress) {
        if random.unit() < loss { dropped += 1; return }
        forwarded += 1
        if delay == 0 {
            port.send(bytes, to: target)
        } else {
            port.loop.schedule(after: delay) { [port] in port.send(bytes, to: target) }
        }
    }
}

/// Two multiplexers on one loop: a dialer and a listener, each on its own UDP port.
final class UTPPair {
    let loop = EventLoop()
    let dialerPort: DatagramPort
    let listenerPort: DatagramPort
    let dialer: UTPMultiplexer
    let listener: UTPMultiplexer
    var accepted: [UTPStream] = []

    init() throws {
        dialerPort = try DatagramPort(loop: loop, bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        listenerPort = try DatagramPort(loop: loop, bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        dialer = UTPMultiplexer(port: dialerPort)
        listener = UTPMultiplexer(port: listenerPort)
        listener.onAccept = { [unowned self] stream in self.accepted.append(stream) }
    }

    var listenerAddress: SocketAddress { listenerPort.localAddress! }

    /// Runs the loop until `done` or `seconds` pass; returns whether `done` held.
    func run(seconds: Double, until done: () -> Bool) -> Bool {
        let deadline = Deadline.after(seconds)
        while !done() {
            if deadline.hasPassed { return false }
            loop.runOnce(timeout: min(0.05, deadline.remaining))
        }
        return true
    }

    /// Runs the loop until `done`, for as long as `progress` keeps growing: false when it stood still
    /// for `stall` seconds. A slow machine (a full test run in parallel on 2 cores) makes a transfer
    /// slow, not stuck; only a stuck one fails.
    func runWhileProgressing(stall: Double, progress: () -> Int, until done: () -> Bool) -> Bool {
        while !done() {
            let before = progress()
            if !run(seconds: stall, until: { done() || progress() != before }) { return false }
        }
        return true
    }

    /// Dials `address` (the listener or a relay in front of it); nil on failure.
    func dial(_ address: SocketAddress, timeout: Double = 5) -> UTPStream? {
        var result: Result<UTPStream, NetError>?
        dialer.dial(address, timeout: timeout) { result = $0 }
        _ = run(seconds: timeout + 1) { result != nil }
        return try? result?.get()
    }
}

/// Collects what a stream delivers.
final class Sink {
    var bytes: [UInt8] = []
    var closed = false
    var error: NetError?
    init(_ stream: ByteStream) {
        stream.onData = { [unowned self] in self.bytes.append(contentsOf: $0) }
        stream.onClose = { [unowned self] in self.closed = true; self.error = $0 }
        stream.start()
    }
}
