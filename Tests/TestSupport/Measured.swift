import Foundation

/// What a child process did, with its peak memory (VmHWM, sampled until it exited).
public struct MeasuredRun: Sendable {
    public var status: Int32?
    public var output: String
    public var peakKiB: Int
    public var seconds: Double
    /// Ended by a signal (a trap is SIGILL/SIGTRAP, an abort SIGABRT) rather than an exit code.
    public var crashed: Bool
}

/// Runs `executable` to its end or `timeout` (then stops it), sampling its peak resident memory:
/// hostile-input tests bound memory and time, not only the exit code.
public func runMeasured(_ executable: String, _ arguments: [String], timeout: Double, cwd: String? = nil) -> MeasuredRun {
    let start = Date()
    guard let child = try? ManagedProcess(executable, arguments, cwd: cwd) else {
        return MeasuredRun(status: nil, output: "could not start \(executable)", peakKiB: 0, seconds: 0, crashed: false)
    }
    var peak = 0
    let deadline = Date().addingTimeInterval(timeout)
    // Until it has exec'd, the child shares the test runner's memory (posix_spawn's vfork) and its
    // /proc status shows the runner's peak: samples count only once it runs `executable`.
    let image = URL(fileURLWithPath: executable).resolvingSymlinksInPath().path
    var started = false
    while child.isRunning && Date() < deadline {
        started = started || (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(child.pid)/exe")) == image
        if started { peak = max(peak, highWaterKiB(child.pid)) }
        usleep(5_000)  // a sampling period, not synchronisation
    }
    let status = child.isRunning ? nil : child.process.terminationStatus
    if status == nil { child.stop() }
    let crashed = status != nil && child.process.terminationReason == .uncaughtSignal
    return MeasuredRun(status: status, output: child.log + (status == nil ? "\n(stopped after \(timeout) s)" : ""),
                       peakKiB: peak, seconds: Date().timeIntervalSince(start), crashed: crashed)
}

/// The process's peak resident set (VmHWM) in KiB, or 0 once it is gone.
public func highWaterKiB(_ pid: Int32) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return 0 }
    return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
}

/// Why this machine has no IPv6 loopback (nil when `::1` can be bound): tests that need it record
/// a known issue with this reason instead of passing silently, and still fail on any other error.
public let ipv6LoopbackMissing: String? = {
    let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return "no IPv6 sockets: \(String(cString: strerror(errno)))" }
    defer { close(fd) }
    var address = sockaddr_in6()
    address.sin6_family = sa_family_t(AF_INET6)
    address.sin6_addr = in6addr_loopback
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
    }
    return result == 0 ? nil : "::1 cannot be bound: \(String(cString: strerror(errno)))"
}()
