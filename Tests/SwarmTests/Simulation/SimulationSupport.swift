import Net
import Testing

extension EventLoop {
    /// Runs a virtual-clock loop until `condition` holds or `now` reaches `limit`; true when it held.
    @discardableResult
    func run(until limit: Double, or condition: () -> Bool) -> Bool {
        while !condition() && now < limit { runOnce(timeout: limit - now) }
        return condition()
    }
}

/// Names the seed in every failure, so `TT_SIM_SEED=n swift test --filter …` repeats it.
struct SimulationContext {
    let seed: UInt64
    var comment: Comment { "reproduce with TT_SIM_SEED=\(seed) SWIFT_DETERMINISTIC_HASHING=1" }
}
