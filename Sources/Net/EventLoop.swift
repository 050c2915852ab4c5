import Dispatch
import Glibc
import Synchronization

/// A single-threaded event loop over poll(2): file descriptor readiness, timers, work handed
/// over from other threads, and signals.
///
/// Many connections share one loop and one thread (no thread per peer). The loop belongs to one
/// thread — the one that created it, or the latest to call `run`/`runOnce` — and everything
/// registered with it must be used from that thread (`assertInLoop()` checks it in debug builds).
/// The one exception is `execute`, which any thread may call, like swift-nio's `EventLoop.execute`.
///
/// Time comes from `now`: the monotonic clock, or — with `.virtual` — a clock that only moves when
/// the loop has nothing ready, straight to the next timer. A simulated swarm then runs minutes of
/// timers in milliseconds, in the same order every run.
///
/// ```swift
/// let loop = EventLoop()
/// loop.watch(fd, readable: true) { events in … }
/// loop.schedule(after: 5) { loop.stop() }
/// loop.run()
/// ```
public final class EventLoop: @unchecked Sendable {
    // Sendable by hand: only `execute`, `inLoop` and the wake-up descriptors are touched from
    // other threads, through `pending` (a Mutex), `owner` (an Atomic) and write(2). Everything
    // else is the loop thread's alone, which the debug assertions check.

    /// What happened on a descriptor.
    public struct Events: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        public static let readable = Events(rawValue: 1)
        public static let writable = Events(rawValue: 2)
        /// Error or hang-up: read or write to learn what.
        public static let failed = Events(rawValue: 4)
    }

    /// Where `now` comes from.
    public enum Clock: Sendable, Equatable {
        /// CLOCK_MONOTONIC: real time.
        case monotonic
        /// Seconds that pass only when the loop is idle, jumping to the next timer; starts at `start`
        /// (pick something above 0 so "never happened" timestamps of 0 stay in the past).
        case virtual(start: Double)
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

    public let clock: Clock
    private var virtualNow: Double
    private var watches: [Int32: Watch] = [:]
    private var timers = TimerQueue()
    private var stopped = false
    private let pending = Mutex<[@Sendable () -> Void]>([])
    private let owner: Atomic<UInt>
    private let wakeRead: Int32
    private let wakeWrite: Int32
    /// One receive buffer for every `StreamChannel` on this loop (they read one at a time, on the
    /// loop's thread): 256 KiB once, not per connection. Made at the first read.
    var sharedReadBuffer: [UInt8] = []
    static let readBufferSize = 256 * 1024

    public init(clock: Clock = .monotonic) {
        self.clock = clock
        if case .virtual(let start) = clock { virtualNow = start } else { virtualNow = 0 }
        owner = Atomic(UInt(pthread_self()))
        var ends: [Int32] = [-1, -1]
        if pipe(&ends) == 0 {
            for fd in ends {
                SocketSupport.setNonBlocking(fd)
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            }
        }
        wakeRead = ends[0]
        wakeWrite = ends[1]
    }

    deinit {
        if wakeRead >= 0 { close(wakeRead) }
        if wakeWrite >= 0 { close(wakeWrite) }
    }

    // MARK: - Time

    /// Seconds on the loop's clock: monotonic (as `monotonicSeconds()`), or virtual. Timers use it.
    public var now: Double {
        switch clock {
        case .monotonic: monotonicSeconds()
        case .virtual: virtualNow
        }
    }

    public var isVirtual: Bool { clock != .monotonic }

    // MARK: - Threads

    /// True on the loop's thread.
    public var inLoop: Bool { owner.load(ordering: .relaxed) == UInt(pthread_self()) }

    /// Traps in debug builds when called off the loop's thread (like swift-nio's `assertInEventLoop`).
    public func assertInLoop(file: StaticString = #fileID, line: UInt = #line) {
        assert(inLoop, "used off its event loop's thread", file: file, line: line)
    }

    /// Traps in every build when called off the loop's thread.
    public func preconditionInLoop(file: StaticString = #fileID, line: UInt = #line) {
        precondition(inLoop, "used off its event loop's thread", file: file, line: line)
    }

    /// Runs `task` on the loop's thread on a later turn, in the order tasks were handed over.
    /// Callable from any thread; wakes the loop if it is waiting.
    public func execute(_ task: @escaping @Sendable () -> Void) {
        let wasEmpty = pending.withLock { queue in
            queue.append(task)
            return queue.count == 1
        }
        // One byte per empty → non-empty change is enough: the loop takes the whole queue at once.
        if wasEmpty && !inLoop && wakeWrite >= 0 {
            var byte: UInt8 = 1
            _ = write(wakeWrite, &byte, 1)
        }
    }

    /// Runs `work` off the loop (on `queue`, or a global one) and then `completion` with its result
    /// on the loop's thread. With a virtual clock `work` runs inline instead — no time passes and the
    /// order is the same every run — and `completion` still comes on a later turn. Call on the loop.
    public func offload<Result: Sendable>(on queue: DispatchQueue? = nil,
                                          _ work: @escaping @Sendable () -> Result,
                                          then completion: @escaping (Result) -> Void) {
        assertInLoop()
        let bound = LoopBound(completion, loop: self)
        if isVirtual {
            let result = work()
            execute { bound.value(result) }
        } else {
            (queue ?? .global()).async { [self] in
                let result = work()
                execute { bound.value(result) }
            }
        }
    }

    // MARK: - Watches and timers

    /// True while anything is watched, scheduled or handed over by `execute`.
    public var hasWork: Bool { !watches.isEmpty || !timers.isEmpty || hasPendingTasks }

    private var hasPendingTasks: Bool { pending.withLock { !$0.isEmpty } }

    /// Calls `handler` whenever `fd` is ready for what is asked (replaces an earlier watch of `fd`).
    public func watch(_ fd: Int32, readable: Bool = true, writable: Bool = false, handler: @escaping (Events) -> Void) {
        assertInLoop()
        watches[fd] = Watch(readable: readable, writable: writable, handler: handler)
    }

    /// Changes what a watched descriptor waits for.
    public func setInterest(_ fd: Int32, readable: Bool, writable: Bool) {
        assertInLoop()
        guard let watch = watches[fd] else { return }
        watch.readable = readable
        watch.writable = writable
    }

    /// Stops watching `fd` (does not close it).
    public func unwatch(_ fd: Int32) {
        assertInLoop()
        watches[fd] = nil
    }

    /// Runs `action` once, `seconds` from now.
    @discardableResult
    public func schedule(after seconds: Double, _ action: @escaping () -> Void) -> TimerID {
        schedule(at: now + seconds, action)
    }

    /// Runs `action` once when `now` reaches `time`.
    @discardableResult
    public func schedule(at time: Double, _ action: @escaping () -> Void) -> TimerID {
        assertInLoop()
        return TimerID(value: timers.add(due: time, action))
    }

    public func cancel(_ timer: TimerID) {
        assertInLoop()
        timers.cancel(timer.value)
    }

    // MARK: - Running

    /// Makes `run()` return after the current turn.
    public func stop() { stopped = true }

    /// Runs until `stop()` or until nothing is watched, scheduled or handed over.
    public func run() {
        claimThread()
        stopped = false
        while !stopped && hasWork { runOnce(timeout: nil) }
    }

    /// Runs until `now` reaches `time`, or `stop()`. With a virtual clock this takes no real time
    /// beyond the work done; it is how a test moves a simulation forward.
    public func run(until time: Double) {
        claimThread()
        stopped = false
        while !stopped && now < time { runOnce(timeout: time - now) }
    }

    /// Waits once (at most `timeout` seconds, or until the next timer) and dispatches what is ready:
    /// descriptors, then tasks from `execute`, then due timers. With a virtual clock it never waits
    /// while a timer or timeout lies ahead: when nothing is ready it moves the clock there instead.
    public func runOnce(timeout: Double?) {
        claimThread()
        let limit = timeout.map { now + max(0, $0) }
        let nextDue = timers.nextDue()
        let tasksWaiting = hasPendingTasks
        var wait: Double
        switch clock {
        case .monotonic:
            wait = timeout ?? .infinity
            if let due = nextDue { wait = min(wait, max(0, due - now)) }
            if tasksWaiting { wait = 0 }
        case .virtual:
            // Block for real only when nothing could ever move the virtual clock.
            wait = (tasksWaiting || nextDue != nil || timeout != nil) ? 0 : .infinity
        }
        let dispatched = pollDescriptors(wait: wait)
        let ranTasks = runTasks()
        if case .virtual = clock, !dispatched && !ranTasks {
            let target = min(nextDue ?? .infinity, limit ?? .infinity)
            if target.isFinite { virtualNow = max(virtualNow, target) }
        }
        let due = timers.popDue(upTo: now)
        // A timer may cancel a later one due in the same turn.
        for timer in due where timers.claim(timer.id) { timer.action() }
    }

    private func claimThread() { owner.store(UInt(pthread_self()), ordering: .relaxed) }

    /// Polls the watched descriptors and the wake-up pipe; true when a handler ran.
    private func pollDescriptors(wait: Double) -> Bool {
        let ordered = watches.map { ($0.key, $0.value) }
        var fds = ordered.map { fd, watch -> pollfd in
            var events: Int16 = 0
            if watch.readable { events |= Int16(POLLIN) }
            if watch.writable { events |= Int16(POLLOUT) }
            return pollfd(fd: fd, events: events, revents: 0)
        }
        if wakeRead >= 0 { fds.append(pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)) }
        let milliseconds: Int32 = wait == .infinity ? -1 : Int32(min((wait * 1000).rounded(.up), 1_000_000))
        guard poll(&fds, nfds_t(fds.count), milliseconds) > 0 else { return false }
        var dispatched = false
        for (index, entry) in fds.enumerated() where entry.revents != 0 {
            guard index < ordered.count else {
                var buffer = [UInt8](repeating: 0, count: 64)
                while read(wakeRead, &buffer, buffer.count) > 0 {}
                continue
            }
            let (fd, watch) = ordered[index]
            // A handler earlier in this turn may have removed or replaced this watch.
            guard let current = watches[fd], current === watch else { continue }
            var events: Events = []
            if entry.revents & Int16(POLLIN) != 0 { events.insert(.readable) }
            if entry.revents & Int16(POLLOUT) != 0 { events.insert(.writable) }
            if entry.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 { events.insert(.failed) }
            if entry.revents & Int16(POLLNVAL) != 0 { watches[fd] = nil }
            watch.handler(events)
            dispatched = true
        }
        return dispatched
    }

    /// Runs the tasks handed over so far (not those they hand over in turn); true when any ran.
    private func runTasks() -> Bool {
        let tasks = pending.withLock { queue in
            let taken = queue
            queue.removeAll()
            return taken
        }
        for task in tasks { task() }
        return !tasks.isEmpty
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
