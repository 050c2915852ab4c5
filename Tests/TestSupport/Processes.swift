import Foundation
import Synchronization

/// A child process a test started; stopped by pid when the test is done with it.
public final class ManagedProcess: @unchecked Sendable {
    public let process: Process
    public let label: String
    /// Output goes to a file, not a pipe: a pipe's last chunk can be lost when the child exits.
    private let logPath: String

    /// Starts `executable` with `arguments`; stdout and stderr are collected for failure messages.
    public init(_ executable: String, _ arguments: [String], label: String? = nil, environment: [String: String]? = nil,
                cwd: String? = nil) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        // Children stay on loopback: a `tt` started here never asks the public DHT routers.
        // …and keep their DHT routing table in a folder of this test run, not the user's state.
        let loopbackOnly = ["TT_DHT_LOOPBACK_ONLY": "1", "XDG_STATE_HOME": NSTemporaryDirectory() + "tt-test-state-\(getpid())"]
        process.environment = ProcessInfo.processInfo.environment.merging(loopbackOnly) { $1 }.merging(environment ?? [:]) { $1 }
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        self.label = label ?? (executable as NSString).lastPathComponent
        logPath = NSTemporaryDirectory() + "tt-process-\(UInt64.random(in: 0...UInt64.max)).log"
        precondition(FileManager.default.createFile(atPath: logPath, contents: nil), "cannot create a test file")
        let sink = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = sink
        process.standardError = sink
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try? sink.close()
        LiveChildren.add(process.processIdentifier)
    }

    public var pid: Int32 { process.processIdentifier }
    /// The ports it listens on, once known: checked by `startListening`, or reported by the process itself.
    public internal(set) var ports: [Int] = []
    /// Its first (or only) port.
    public var port: Int { ports.first ?? 0 }
    public var log: String { String(decoding: FileManager.default.contents(atPath: logPath) ?? Data(), as: UTF8.self) }
    public var isRunning: Bool { process.isRunning }

    /// SIGTERM, then SIGKILL after `grace` seconds. (Children of the test runner may start with
    /// SIGTERM blocked — tt unblocks it, other tools do not — so the SIGKILL is what ends those.)
    public func stop(grace: Double = 3) {
        defer { LiveChildren.remove(pid) }
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        waitUntil(timeout: grace, poll: 0.02) { !process.isRunning }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }

    /// Waits for exit up to `timeout`; returns the status, or nil if it is still running.
    public func wait(timeout: Double) -> Int32? {
        waitUntil(timeout: timeout, poll: 0.02) { !process.isRunning }
        return process.isRunning ? nil : process.terminationStatus
    }

    deinit {
        stop(grace: 1)
        try? FileManager.default.removeItem(atPath: logPath)
    }
}

/// Runs a command to completion and returns (status, stdout+stderr).
@discardableResult
public func runCommand(_ executable: String, _ arguments: [String], timeout: Double = 300, cwd: String? = nil) -> (status: Int32, output: String) {
    guard let child = try? ManagedProcess(executable, arguments, cwd: cwd) else { return (-1, "could not start \(executable)") }
    guard let status = child.wait(timeout: timeout) else {
        child.stop()
        return (-1, child.log + "\n(timed out after \(timeout) s)")
    }
    return (status, child.log)
}

/// Waits until something accepts TCP connections on host:port.
public func waitForTCP(host: String = "127.0.0.1", port: Int, timeout: Double = 20) -> Bool {
    waitUntil(timeout: timeout) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        let result = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        close(fd)
        return result == 0
    }
}

/// Path of the built `tt` executable beside the test bundle (`swift build` makes it; the
/// README's test command builds first).
public let ttExecutable: String = {
    var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    for _ in 0..<4 {
        url.deleteLastPathComponent()
        let candidate = url.appendingPathComponent("tt").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return "tt"
}()

/// Every child a test started and has not stopped yet: killed when the test process exits, so a test
/// that fails half-way (or a runner that exits early) leaves no tracker or client behind.
enum LiveChildren {
    private static let pids = Mutex<Set<Int32>>([])
    private static let installed: Void = { atexit { LiveChildren.killAll() } }()

    static func add(_ pid: Int32) {
        _ = installed
        pids.withLock { _ = $0.insert(pid) }
    }

    static func remove(_ pid: Int32) { pids.withLock { _ = $0.remove(pid) } }

    static func killAll() {
        for pid in pids.withLock({ $0 }) { kill(pid, SIGKILL) }
    }
}
