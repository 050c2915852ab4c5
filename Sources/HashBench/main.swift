// Measures in-memory SHA-1 and SHA-256 throughput of the Hashing module on one core.
//
// Usage: HashBench [--mib N] [--runs R] [--portable]   (defaults: 512 MiB, 5 runs)
// Prints one JSON object: {"sha1_mib_s":…,"sha256_mib_s":…}, each the best of R runs of
// hashing N MiB. Time is this thread's CPU time, as `openssl speed` measures by default, so
// the figures are comparable with it and stay meaningful on a busy shared machine; best-of
// rejects what interference remains (cache and memory-bandwidth sharing).
// --portable forces the C fallback instead of SHA-NI.

#if canImport(Glibc)
import Glibc
#endif
import CTTCrypto
import Hashing

/// Parses the arguments, runs both measurements and prints the JSON line.
func runBenchmark() -> Int32 {
    var totalMiB = 512
    var runs = 5
    var arguments = CommandLine.arguments.dropFirst()
    while let argument = arguments.popFirst() {
        switch argument {
        case "--mib": totalMiB = arguments.popFirst().flatMap { Int($0) } ?? -1
        case "--runs": runs = arguments.popFirst().flatMap { Int($0) } ?? -1
        case "--portable": tt_sha_force_portable(1)
        default: totalMiB = -1
        }
    }
    guard totalMiB > 0, runs > 0 else {
        print("usage: HashBench [--mib N] [--runs R] [--portable]")
        return 2
    }

    // A buffer of up to 64 MiB hashed repeatedly: bigger than the caches, so memory is read
    // at the same rate as for a whole N MiB, without allocating N MiB.
    let bufferMiB = min(totalMiB, 64)
    let passes = (totalMiB + bufferMiB - 1) / bufferMiB
    var seed: UInt64 = 0x1234_5678_9ABC_DEF0
    let buffer: [UInt8] = (0..<(bufferMiB << 20)).map { _ in
        seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return UInt8(truncatingIfNeeded: seed >> 56)
    }

    /// Returns the best MiB/s over `runs` runs of `hashAll`.
    func measure(_ hashAll: () -> [UInt8]) -> Double {
        var best = 0.0
        var sink: UInt8 = 0
        for _ in 0..<runs {
            let start = threadCPUSeconds()
            sink ^= hashAll()[0]
            let seconds = threadCPUSeconds() - start
            best = max(best, Double(passes * bufferMiB) / seconds)
        }
        // Keeps the digests observable so the work cannot be optimised away.
        if sink == 0x5A && best < 0 { print(sink) }
        return best
    }

    let sha1 = measure {
        var h = SHA1()
        for _ in 0..<passes { h.update(buffer) }
        return h.finalize()
    }
    let sha256 = measure {
        var h = SHA256()
        for _ in 0..<passes { h.update(buffer) }
        return h.finalize()
    }
    print("{\"sha1_mib_s\":\(oneDecimal(sha1)),\"sha256_mib_s\":\(oneDecimal(sha256))}")
    return 0
}

/// Returns the CPU time consumed so far by the calling thread.
func threadCPUSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
}

/// Formats a non-negative number with one decimal, without Foundation.
func oneDecimal(_ value: Double) -> String {
    let tenths = Int((value * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)"
}

exit(runBenchmark())
