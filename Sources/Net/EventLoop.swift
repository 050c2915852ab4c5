import Glibc

/// A single-threaded event loop over poll(2): file descriptor readiness, timers and signals.
///
/// Many connections share one loop and one thread (no thread per peer). Everything
/// registered with a loop must be used from the thread that calls `run()`; the loop is
/// not thread-safe, and handlers may register, change or remove watches freely.
///
/// ```swift
/// let loop = EventLoop()
/// loop.watch(fd, readable: true) { events in … }
/// loop.schedule(after: 5) { loop.stop() }
/// loop.run()
/// ```
public final class EventLoop {
    /// What happened on a descriptor.
    public struct Events: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        public static let readable = Events(rawValue: 1)
        public static let writable = Events(rawValue: 2)
        /// Error or hang-up: read or write to learn what.
        public static let failed = Events(rawValue: 4)
    }

    /// Names a scheduled timer so it can be cancelled.
    public struct TimerID: Hashable, Sendable { let value: Int }

    final class Watch {
        var readable: Bool
        var writable: Bool
        let handler: (Events) -> Void
        init(readable: Bool, writable: Bool, handler: @escaping (Events) -> Void) {
            self.readable = readable
            self.writable = writable
            self.handler = handler
        }
    }

    struct Timer {
        var id: Int
        var due: Double
        var action: () -> Void
    }

    private var watches: [Int32: Watch] = [:]
    private var timers: [Timer] = []
    private var nextTimer = 0
    private var stopped = false

    public init() {}

    /// True while anything is watched or scheduled.
    public var hasWork: Bool { !watches.isEmpty || !timers.isEmpty }

    /// Calls `handler` whenever `fd` is ready for what is asked (replaces an earlier watch of `fd`).
    public func watch(_ fd: Int32, readable: Bool = true, writable: Bool = false, handler: @escaping (Events) -> Void) {
        watches[fd] = Watch(readable: readable, writable: writable, handler: handler)
    }

    /// Changes what a watched descriptor waits for.
    public func setInterest(_ fd: Int32, readable: Bool, writable: Bool) {
        guard let watch = watches[fd] else { return }
        watch.readable = readable
        watch.writable = writable
    }

    /// Stops watching `fd` (does not close it).
    public func unwatch(_ fd: Int32) { watches[fd] = nil }

    /// Runs `action` once, `seconds` from now.
    @discardableResult
    public func schedule(after seconds: Double, _ action: @escaping () -> Void) -> TimerID {
        nextTimer += 1
        timers.append(Timer(id: nextTimer, due: monotonicSeconds() + seconds, action: action))
        return TimerID(value: nextTimer)
    }

    public func cancel(_ timer: TimerID) { timers.removeAll { $0.id == timer.value } }

    /// Makes `run()` return after the current turn.
    public func stop() { stopped = true }

    /// Runs until `stop()` or until nothing is watched or scheduled.
    public func run() {
        stopped = false
        while !stopped && hasWork { runOnce(timeout: nil) }
    }

    /// Waits once (at most `timeout` seconds, or until the next timer) and dispatches what is ready.
    public func runOnce(timeout: Double?) {
        let now = monotonicSeconds()
        var wait = timeout ?? .infinity
        if let due = timers.map(\.due).min() { wait = min(wait, max(0, due - now)) }
        let ordered = watches.map { ($0.key, $0.value) }
        var fds = ordered.map { fd, watch -> pollfd in
            var events: Int16 = 0
            if watch.readable { events |= Int16(POLLIN) }
            if watch.writable { events |= Int16(POLLOUT) }
            return pollfd(fd: fd, events: events, revents: 0)
        }
        let milliseconds: Int32 = wait == .infinity ? -1 : Int32(min((wait * 1000).rounded(.up), 1_000_000))
        let ready = poll(&fds, nfds_t(fds.count), milliseconds)
        if ready > 0 {
            for (index, entry) in fds.enumerated() where entry.revents != 0 {
                let (fd, watch) = ordered[index]
                // A handler earlier in this turn may have removed or replaced this watch.
                guard let current = watches[fd], current === watch else { continue }
                var events: Events = []
                if entry.revents & Int16(POLLIN) != 0 { events.insert(.readable) }
                if entry.revents & Int16(POLLOUT) != 0 { events.insert(.writable) }
                if entry.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 { events.insert(.failed) }
                if entry.revents & Int16(POLLNVAL) != 0 { watches[fd] = nil }
                watch.handler(events)
            }
        }
        let after = monotonicSeconds()
        let due = timers.filter { $0.due <= after }.sorted { $0.due < $1.due }
        if !due.isEmpty {
            let ids = Set(due.map(\.id))
            timers.removeAll { ids.contains($0.id) }
            for timer in due { timer.action() }
        }
    }

    // MARK: - Signals

    /// Calls `handler` on the loop's thread when one of `signals` arrives (e.g. SIGINT, SIGTERM).
    public func onSignal(_ signals: [Int32], _ handler: @escaping (Int32) -> Void) {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { return }
        for fd in ends {
            SocketSupport.setNonBlocking(fd)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        signalPipeWrite = ends[1]
        // A parent may have started us with these signals blocked (test runners do): unblock them.
        var set = sigset_t()
        sigemptyset(&set)
        for number in signals { sigaddset(&set, number) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        for number in signals {
            signal(number) { received in
                var byte = UInt8(truncatingIfNeeded: received)
                _ = write(signalPipeWrite, &byte, 1)
            }
        }
        let readEnd = ends[0]
        watch(readEnd) { _ in
            var byte: UInt8 = 0
            while read(readEnd, &byte, 1) == 1 { handler(Int32(byte)) }
        }
    }
}

/// Written only before signal handlers are installed; read from the handler.
nonisolated(unsafe) private var signalPipeWrite: Int32 = -1
