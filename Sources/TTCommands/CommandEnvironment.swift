import FoundationEssentials
import Metainfo
import Glibc
import Synchronization
import JSON

/// Where a command reads and writes: the real process, or buffers in tests.
///
/// Commands never touch `FileHandle.standardOutput` or `print` directly, so the test
/// suite runs the CLI in-process and checks exactly what a user would see.
public final class CommandEnvironment: @unchecked Sendable {
    public let arguments: [String]
    public let workingDirectory: String
    public let variables: [String: String]
    private let stdinReader: @Sendable () -> [UInt8]
    private let stdoutWriter: @Sendable ([UInt8]) -> Void
    private let stderrWriter: @Sendable ([UInt8]) -> Void
    /// True when stderr is a terminal (progress bars and colour go there only then).
    public let stderrIsTerminal: Bool
    private let lock = Mutex(())

    public init(arguments: [String], workingDirectory: String, variables: [String: String],
                stdin: @escaping @Sendable () -> [UInt8],
                stdout: @escaping @Sendable ([UInt8]) -> Void,
                stderr: @escaping @Sendable ([UInt8]) -> Void,
                stderrIsTerminal: Bool) {
        self.arguments = arguments
        self.workingDirectory = workingDirectory
        self.variables = variables
        self.stdinReader = stdin
        self.stdoutWriter = stdout
        self.stderrWriter = stderr
        self.stderrIsTerminal = stderrIsTerminal
    }

    /// The real process: unbuffered writes to fds 1 and 2 (each JSON Lines event reaches a pipe at once).
    public static func process() -> CommandEnvironment {
        CommandEnvironment(
            arguments: Array(CommandLine.arguments.dropFirst()),
            workingDirectory: FileManager.default.currentDirectoryPath,
            variables: ProcessInfo.processInfo.environment,
            stdin: { readAll(fd: 0) },
            stdout: { writeAll(fd: 1, $0) },
            stderr: { writeAll(fd: 2, $0) },
            stderrIsTerminal: isatty(2) == 1)
    }

    /// Everything up to end of file (EINTR retried; a read error ends the input there).
    static func readAll(fd: Int32) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return bytes }
            bytes += chunk[..<count]
        }
    }

    /// Writes every byte; a closed stdout (`| head`) ends the process quietly, as Unix tools do. Any
    /// other failure to write stdout (a full disk under `tt decode x > file`) ends it with one line on
    /// stderr and exit 74: output that did not arrive must not look like success.
    static func writeAll(fd: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    let code = errno
                    if code == EINTR { continue }
                    if code == EAGAIN || code == EWOULDBLOCK {
                        // Someone else's non-blocking descriptor: wait until it takes more.
                        var ready = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                        _ = poll(&ready, 1, -1)
                        continue
                    }
                    guard fd == 1 else { return }  // stderr: nowhere left to say it
                    if code == EPIPE { exit(0) }
                    let line = "tt: error: cannot write to standard output: \(String(cString: strerror(code)))\n"
                    _ = line.withCString { Glibc.write(2, $0, strlen($0)) }
                    exit(ExitCode.ioError.rawValue)
                }
                offset += written
            }
        }
    }

    public func readStdin() -> [UInt8] { stdinReader() }

    public func write(_ text: String) {
        lock.withLock { _ in stdoutWriter(Array(text.utf8)) }
    }

    public func writeBytes(_ bytes: [UInt8]) {
        lock.withLock { _ in stdoutWriter(bytes) }
    }

    public func writeError(_ text: String) {
        lock.withLock { _ in stderrWriter(Array(text.utf8)) }
    }

    /// One JSON document (pretty when asked) or one JSON Lines event, newline-terminated.
    /// Written in pieces as it is serialised, under the lock throughout, so events from other
    /// threads never land inside it.
    public func writeJSON(_ value: JSONValue, pretty: Bool = false) {
        lock.withLock { _ in
            JSONWriter(pretty: pretty).write(value) { stdoutWriter($0) }
        }
    }

    /// Resolves a user's path against the working directory.
    public func path(_ path: String) -> String {
        if path.hasPrefix("/") || path == "-" { return path }
        return PathName.appending(workingDirectory, path)
    }

    public var colorAllowed: Bool { stderrIsTerminal && variables["NO_COLOR"] == nil }
}

/// How much a command says on stderr.
public enum Verbosity: Int, Sendable, Comparable {
    case quiet, normal, verbose
    public static func < (a: Verbosity, b: Verbosity) -> Bool { a.rawValue < b.rawValue }
}
