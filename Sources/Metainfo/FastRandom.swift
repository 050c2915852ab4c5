/// SplitMix64, seeded once from the system generator. Piece picking, the optimistic unchoke and
/// where a tracker's peer list starts need fair choices, not secrets, and
/// `SystemRandomNumberGenerator` costs a getrandom(2) call per use — one per piece, one per announce.
public struct FastRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64 = UInt64.random(in: .min ... .max)) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
