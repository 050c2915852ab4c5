import FoundationEssentials
import Glibc
import Synchronization

/// A one-line progress bar on stderr, drawn only when stderr is a terminal.
public final class ProgressBar: @unchecked Sendable {
    private let environment: CommandEnvironment
    private let enabled: Bool
    private let label: String
    private let lock = Mutex(())
    private var lastDraw = Date.distantPast
    private let started = Date()
    private var drawn = false

    public init(environment: CommandEnvironment, enabled: Bool, label: String) {
        self.environment = environment
        self.enabled = enabled && environment.stderrIsTerminal
        self.label = label
    }

    public func update(done: Int64, total: Int64, suffix: String = "") {
        guard enabled else { return }
        lock.withLock { _ in
            let now = Date()
            guard now.timeIntervalSince(lastDraw) >= 0.1 || done == total else { return }
            lastDraw = now
            let fraction = total > 0 ? Double(done) / Double(total) : 1
            let width = 30
            let filled = Int(fraction * Double(width))
            let elapsed = now.timeIntervalSince(started)
            let rate = elapsed > 0 ? Double(done) / elapsed : 0
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            let percent = String(Int(fraction * 100))
            environment.writeError("\r\u{1B}[K\(label) \(bar) \(percent)% \(Format.bytes(done))/\(Format.bytes(total)) \(Format.rate(rate))\(suffix)")
            drawn = true
        }
    }

    /// Clears the line so the next message starts clean.
    public func finish() {
        lock.withLock { _ in
            if drawn { environment.writeError("\r\u{1B}[K") }
            drawn = false
        }
    }
}
