import CTTCrypto

/// Reports whether SHA-1 and SHA-256 run on the CPU's SHA extensions.
public enum HashAcceleration {
    /// True when `SHA1` and `SHA256` use SHA-NI instructions.
    ///
    /// False on CPUs without them (hashing then runs portable C code: SHA-1 ~2.5x and SHA-256
    /// ~5x slower) and while a test forces the portable path.
    public static var isHardwareAccelerated: Bool {
        tt_sha_hardware_active() != 0
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

extension HashAcceleration {
    /// True when the CPU has AVX-512 (F and BW) for the sixteen-lane SHA-256 of `Interleaved`.
    public static var hasWideLanes: Bool {
        tt_sha_wide_available() != 0
    }

    /// Makes `Interleaved`'s sixteen-lane functions use SHA-NI pairs (`true`) or AVX-512 when available (`false`).
    ///
    /// Internal: for tests, via `@testable import`.
    static func forceNarrow(_ force: Bool) {
        tt_sha_force_narrow(force ? 1 : 0)
    }
}
