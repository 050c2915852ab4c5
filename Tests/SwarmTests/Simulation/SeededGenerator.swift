import Foundation

/// SplitMix64: a small, fast generator whose whole future is fixed by its seed, so a simulation
/// repeats exactly. Not for anything secret.
struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// An independent stream for one part of the simulation (a peer, a link), so adding a peer
    /// does not change the numbers every other peer draws.
    mutating func fork() -> SeededGenerator { SeededGenerator(seed: next()) }
}

/// The seed a simulation runs with: `TT_SIM_SEED=n` reproduces a printed failure; otherwise a
/// fixed default, so the suite is the same every run.
enum SimulationSeed {
    static func value(default fallback: UInt64) -> UInt64 {
        if let text = ProcessInfo.processInfo.environment["TT_SIM_SEED"], let seed = UInt64(text) { return seed }
        return fallback
    }
}
