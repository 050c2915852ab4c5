import Glibc

/// A point on the monotonic clock; every wait in Net takes one instead of a duration,
/// so a sequence of reads shares one overall limit.
public struct Deadline: Sendable, Comparable, Hashable {
    /// Seconds on CLOCK_MONOTONIC.
    public let seconds: Double

    public init(seconds: Double) { self.seconds = seconds }

    public static var now: Deadline { Deadline(seconds: monotonicSeconds()) }

    /// `seconds` from now.
    public static func after(_ seconds: Double) -> Deadline { Deadline(seconds: monotonicSeconds() + seconds) }

    /// No limit.
    public static let never = Deadline(seconds: .infinity)

    /// Seconds left (never negative).
    public var remaining: Double { max(0, seconds - monotonicSeconds()) }
    public var hasPassed: Bool { monotonicSeconds() >= seconds }

    /// Milliseconds left for poll(2): -1 for never, at least 0.
    var pollTimeout: Int32 {
        if seconds == .infinity { return -1 }
        let left = remaining * 1000
        return Int32(min(left.rounded(.up), Double(Int32.max)))
    }

    public static func < (a: Deadline, b: Deadline) -> Bool { a.seconds < b.seconds }
}

/// Seconds on the monotonic clock (for measuring durations; not wall time).
public func monotonicSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}
