import CTTCipher

/// An RC4 keystream (the cipher of MSE/PE), one per direction of a connection.
///
/// A class because the 1 KiB state is mutated in place for every chunk; copying it per call
/// would cost more than the cipher itself.
public final class RC4 {
    private var state = tt_rc4_state()

    /// Keys the cipher and throws away the first `discard` keystream bytes (MSE drops 1 024,
    /// the early bytes being the weak ones).
    public init(key: [UInt8], discard: Int = 0) {
        precondition(!key.isEmpty && key.count <= 256, "RC4 keys are 1…256 bytes")
        key.withUnsafeBufferPointer { tt_rc4_init(&state, $0.baseAddress, $0.count) }
        if discard > 0 { tt_rc4_skip(&state, discard) }
    }

    /// Encrypts or decrypts in place.
    public func apply(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            tt_rc4_xor(&state, base, base, buffer.count)
        }
    }

    /// Encrypts or decrypts a copy.
    public func process<C: Collection>(_ bytes: C) -> [UInt8] where C.Element == UInt8 {
        var copy = Array(bytes)
        apply(&copy)
        return copy
    }

    /// Runs the raw buffer through the cipher (for benchmarks and zero-copy callers).
    public func apply(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress else { return }
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        tt_rc4_xor(&state, bytes, bytes, buffer.count)
    }
}
