import CTTNet
import Glibc

/// A child process started with posix_spawn, for `tt demo` (Foundation's `Process` is outside
/// FoundationEssentials, README "Footprint"). Its stdin is /dev/null; stdout and stderr are each piped
/// to us, left as ours, or sent to /dev/null.
public final class ChildProcess {
    public enum Output { case pipe, inherit, discard }

    public let pid: pid_t
    /// Read ends of the pipes (-1 when that stream was not piped).
    public let stdoutFD: Int32
    public let stderrFD: Int32
    private var status: Int32?

    /// Starts `executable` with `arguments` in `directory`; throws the system's reason when it cannot.
    public init(executable: String, arguments: [String], directory: String,
                stdout: Output, stderr: Output) throws(NetError) {
        var ownEnds: [Int32] = []
        var childEnds: [Int32] = []
        defer { for fd in childEnds { close(fd) } }
        func end(_ output: Output) throws(NetError) -> (ours: Int32, theirs: Int32) {
            switch output {
            case .inherit: return (-1, -1)
            case .discard:
                let fd = open("/dev/null", O_WRONLY | O_CLOEXEC)
                guard fd >= 0 else { throw .system(operation: "open /dev/null", reason: String(cString: strerror(errno))) }
                childEnds.append(fd)
                return (-1, fd)
            case .pipe:
                var ends: [Int32] = [-1, -1]
                guard pipe(&ends) == 0 else { throw .system(operation: "pipe", reason: String(cString: strerror(errno))) }
                for fd in ends { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
                ownEnds.append(ends[0])
                childEnds.append(ends[1])
                return (ends[0], ends[1])
            }
        }
        do throws(NetError) {
            let input = open("/dev/null", O_RDONLY | O_CLOEXEC)
            if input >= 0 { childEnds.append(input) }
            let out = try end(stdout)
            let err = try end(stderr)
            var child: Int32 = 0
            let argv = ([executable] + arguments).map { strdup($0) } + [nil]
            defer { for pointer in argv { free(pointer) } }
            let result = tt_spawn(executable, argv, directory, input, out.theirs, err.theirs, &child)
            guard result == 0 else { throw NetError.system(operation: "cannot run \(executable)", reason: String(cString: strerror(result))) }
            pid = child
            stdoutFD = out.ours
            stderrFD = err.ours
        } catch {
            for fd in ownEnds { close(fd) }
            throw error
        }
    }

    deinit {
        if stdoutFD >= 0 { close(stdoutFD) }
        if stderrFD >= 0 { close(stderrFD) }
    }

    /// Everything the child writes to its piped streams until it closes them (both read at once, so
    /// a child filling one pipe never blocks while we wait on the other).
    public func readToEnd() -> (stdout: [UInt8], stderr: [UInt8]) {
        var collected: [Int32: [UInt8]] = [:]
        var open = [stdoutFD, stderrFD].filter { $0 >= 0 }
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while !open.isEmpty {
            var waiting = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            guard poll(&waiting, nfds_t(waiting.count), -1) >= 0 || errno == EINTR else { break }
            for entry in waiting where entry.revents != 0 {
                let count = chunk.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    collected[entry.fd, default: []] += chunk[..<count]
                } else if count == 0 || errno != EINTR {
                    open.removeAll { $0 == entry.fd }
                }
            }
        }
        return (collected[stdoutFD] ?? [], collected[stderrFD] ?? [])
    }

    /// Reads and drops the rest of the child's stdout on a thread of its own, so the child never blocks
    /// on a full pipe.
    public func discardRemainingOutput() {
        let fd = dup(stdoutFD)
        guard fd >= 0 else { return }
        startDetachedThread(name: "tt-child-drain") {
            var chunk = [UInt8](repeating: 0, count: 16 * 1024)
            while true {
                let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count > 0 || (count < 0 && errno == EINTR) { continue }
                break
            }
            close(fd)
        }
    }

    /// Bytes waiting on the child's stdout after a poll said so: nil at end of file.
    public func readAvailable() -> [UInt8]? {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        let count = chunk.withUnsafeMutableBytes { read(stdoutFD, $0.baseAddress, $0.count) }
        if count > 0 { return Array(chunk[..<count]) }
        if count < 0 && (errno == EAGAIN || errno == EINTR) { return [] }
        return nil
    }

    /// True until the child has exited (and then reaps it).
    public var isRunning: Bool {
        guard status == nil else { return false }
        var raw: Int32 = 0
        let result = waitpid(pid, &raw, WNOHANG)
        if result == pid { status = raw; return false }
        return result == 0
    }

    /// Waits for the child to exit: its exit status, or 128 + the signal that ended it.
    @discardableResult
    public func wait() -> Int32 {
        while status == nil {
            var raw: Int32 = 0
            let result = waitpid(pid, &raw, 0)
            // Reaped elsewhere (ECHILD): reported as exit 127, "lost".
            if result == pid { status = raw } else if errno != EINTR { status = 0x7f00; break }
        }
        let raw = status ?? 0
        let signal = raw & 0x7f
        return signal == 0 ? (raw >> 8) & 0xff : 128 + signal
    }

    public func signal(_ number: Int32) {
        if status == nil { kill(pid, number) }
    }
}
