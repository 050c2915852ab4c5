import Tracker

/// When to announce next, to which tiers, and what the last failure was. No I/O, no clock.
struct AnnounceScheduler {
    private(set) var tiers: TrackerTiers
    private(set) var inFlight = false
    private(set) var nextAnnounce: Double = 0
    private(set) var interval: Double = 1800
    /// The latest tracker failure, for the message when no peer can be found.
    private(set) var lastError: String?

    /// Retry after a failure, and the floor for re-asking while short of peers.
    static let retryDelay = 30.0

    init(tiers: TrackerTiers) { self.tiers = tiers }

    var hasTrackers: Bool { !tiers.all.isEmpty }

    /// True when a regular announce is due (and nothing is in flight).
    func isDue(now: Double, wanted: Bool) -> Bool { hasTrackers && !inFlight && wanted && now >= nextAnnounce }

    /// Marks an announce as started; returns the tiers to try (nil when one is running already).
    mutating func begin() -> TrackerTiers? {
        guard hasTrackers, !inFlight else { return nil }
        inFlight = true
        return tiers
    }

    /// An answer: next time is the tracker's interval, or sooner (its minimum, at least 30 s)
    /// while we are short of peers.
    mutating func succeeded(tiers reordered: TrackerTiers, interval: Int?, minInterval: Int?, shortOfPeers: Bool, now: Double) {
        inFlight = false
        tiers = reordered
        self.interval = Double(interval ?? 1800)
        let floor = Double(minInterval ?? Int(Self.retryDelay))
        nextAnnounce = now + (shortOfPeers ? max(floor, Self.retryDelay) : self.interval)
    }

    mutating func failed(tiers reordered: TrackerTiers, error: String?, now: Double) {
        inFlight = false
        tiers = reordered
        lastError = error
        nextAnnounce = now + Self.retryDelay
    }
}
