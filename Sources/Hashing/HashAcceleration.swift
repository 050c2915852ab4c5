import CTTCrypto

/// Reports whether SHA-1 and SHA-256 run on the CPU's SHA extensions.
public enum HashAcceleration {
    /// True when `SHA1` and `SHA256` use SHA-NI instructions; false on CPUs without them
    /// (hashing then runs the portable C code, several times slower).
    public static var isHardwareAccelerated: Bool {
        tt_sha_hardware_active() != 0
    }
}

/// Serialises the first `wordCount` `UInt32`s of a homogeneous tuple big-endian.
func bigEndianBytes<T>(of words: T, wordCount: Int) -> [UInt8] {
    withUnsafeBytes(of: words) { raw in
        precondition(raw.count == wordCount * 4)
        return [UInt8](unsafeUninitializedCapacity: wordCount * 4) { out, initialized in
            for i in 0..<wordCount {
                let word = raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self).bigEndian
                withUnsafeBytes(of: word) { bytes in
                    for j in 0..<4 { out[i * 4 + j] = bytes[j] }
                }
            }
            initialized = wordCount * 4
        }
    }
}

extension HashAcceleration {
    /// Makes the default `SHA1`/`SHA256` path portable C (`true`) or automatic (`false`), process-wide.
    ///
    /// Internal: for tests, via `@testable import`.
    static func forcePortable(_ force: Bool) {
        tt_sha_force_portable(force ? 1 : 0)
    }

    /// True when the CPU has SHA-NI, whether or not the portable path is forced.
    static var cpuHasSHAExtensions: Bool {
        tt_sha_ni_available() != 0
    }
}
