import Dispatch
import Glibc
import Net
import Synchronization

/// A DHT node on its own thread and event loop, for callers whose own loop cannot host it yet.
/// Work is handed to the loop with `perform` (any thread); `stop` saves the table and joins.
public final class DHTThread: @unchecked Sendable {
    public let node: DHTNode
    public let localAddress: SocketAddress
    private let loop: EventLoop
    /// Guards `queued` (work for the loop) and `stopping`.
    private let lock = Mutex(())
    private var queued: [(DHTNode) -> Void] = []
    private var stopping = false
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let finished = DispatchSemaphore(value: 0)

    /// Binds the UDP socket now (so its port is known and errors surface here), then runs the loop.
    public init(bind: SocketAddress, configuration: DHTNode.Configuration) throws(NetError) {
        loop = EventLoop()
        let port = try DatagramPort(loop: loop, bind: bind)
        node = DHTNode(port: port, configuration: configuration)
        localAddress = port.localAddress ?? bind
        var ends: [Int32] = [0, 0]
        _ = pipe(&ends)
        wakeRead = ends[0]
        wakeWrite = ends[1]
        for fd in ends {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        loop.watch(wakeRead) { [weak self] _ in self?.drain() }
        let started = startDetachedThread(name: "tt-dht") { [self] in
            // One turn at once makes this thread the loop's, even when `stop` comes before any
            // datagram (closing the port below is loop work).
            loop.runOnce(timeout: 0)
            while !self.isStopping { loop.runOnce(timeout: 1) }
            node.save()
            node.close()
            node.port.close()
            loop.unwatch(wakeRead)
            finished.signal()
        }
        guard started else {
            node.port.close()
            loop.unwatch(wakeRead)
            for fd in ends { close(fd) }
            throw .system(operation: "starting the DHT thread", reason: String(cString: strerror(EAGAIN)))
        }
    }

    private var isStopping: Bool { lock.withLock { _ in stopping } }

    /// Runs `action` on the DHT loop's thread.
    public func perform(_ action: @escaping (DHTNode) -> Void) {
        lock.withLock { _ in queued.append(action) }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    private func drain() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wakeRead, &buffer, buffer.count) > 0 {}
        var actions: [(DHTNode) -> Void] = []
        lock.withLock { _ in swap(&actions, &queued) }
        for action in actions { action(node) }
    }

    /// Saves the routing table, closes the socket and waits for the thread; returns what the node
    /// knew, so a node on another port (the engine's) can carry on from it.
    @discardableResult
    public func stop() -> NodeState {
        stopAndJoin()
        return node.state
    }

    private func stopAndJoin() {
        let first = lock.withLock { _ -> Bool in
            defer { stopping = true }
            return !stopping
        }
        guard first else { return }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
        finished.wait()
        close(wakeRead)
        close(wakeWrite)
    }

    deinit { stopAndJoin() }
}
