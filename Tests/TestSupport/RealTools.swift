import Foundation
import Synchronization

/// Installs the real implementations we test against from Debian's packages when missing.
/// One install at a time across test processes (apt holds its own lock, and fails rather than waits).
public enum RealTools {
    private static let installed = Mutex<[String: Bool]>([:])

    /// The system Python that has `python3-libtorrent` (not the pyenv one first on PATH).
    public static let systemPython = "/usr/bin/python3"

    /// Ensures a Debian package is installed; returns false (with the reason in `lastError`) when it cannot be.
    @discardableResult
    public static func ensure(_ package: String, probe: String) -> Bool {
        if let known = installed.withLock({ $0[package] }) { return known }
        var ok = FileManager.default.fileExists(atPath: probe)
        if !ok {
            let lock = "/tmp/tt-apt.lock"
            let fd = open(lock, O_CREAT | O_RDWR, 0o644)
            flock(fd, LOCK_EX)
            if !FileManager.default.fileExists(atPath: probe) {
                let env = "DEBIAN_FRONTEND=noninteractive"
                var result = runCommand("/usr/bin/env", [env, "apt-get", "install", "-y", "-q", package], timeout: 600)
                if result.status != 0 {
                    _ = runCommand("/usr/bin/env", [env, "apt-get", "update", "-q"], timeout: 600)
                    result = runCommand("/usr/bin/env", [env, "apt-get", "install", "-y", "-q", package], timeout: 600)
                }
            }
            flock(fd, LOCK_UN)
            close(fd)
            ok = FileManager.default.fileExists(atPath: probe)
        }
        installed.withLock { $0[package] = ok }
        return ok
    }

    public static var aria2c: String? { ensure("aria2", probe: "/usr/bin/aria2c") ? "/usr/bin/aria2c" : nil }
    public static var opentracker: String? { ensure("opentracker", probe: "/usr/bin/opentracker") ? "/usr/bin/opentracker" : nil }
    public static var mktorrent: String? { ensure("mktorrent", probe: "/usr/bin/mktorrent") ? "/usr/bin/mktorrent" : nil }
    public static var transmissionShow: String? { ensure("transmission-cli", probe: "/usr/bin/transmission-show") ? "/usr/bin/transmission-show" : nil }
    public static var transmissionCreate: String? { ensure("transmission-cli", probe: "/usr/bin/transmission-create") ? "/usr/bin/transmission-create" : nil }
    public static var nginx: String? { ensure("nginx", probe: "/usr/sbin/nginx") ? "/usr/sbin/nginx" : nil }
    public static var transmissionDaemon: String? { ensure("transmission-daemon", probe: "/usr/bin/transmission-daemon") ? "/usr/bin/transmission-daemon" : nil }
    /// True when `import libtorrent` works under the system Python.
    public static var libtorrent: Bool {
        guard ensure("python3-libtorrent", probe: "/usr/lib/python3/dist-packages/libtorrent.cpython-311-x86_64-linux-gnu.so") || pythonHasLibtorrent() else { return false }
        return pythonHasLibtorrent()
    }

    static func pythonHasLibtorrent() -> Bool {
        runCommand(systemPython, ["-c", "import libtorrent"], timeout: 60).status == 0
    }

    /// Runs a Python script under the system Python with arguments; returns status and output.
    public static func python(_ script: String, _ arguments: [String] = [], timeout: Double = 300) -> (status: Int32, output: String) {
        runCommand(systemPython, ["-c", script] + arguments, timeout: timeout)
    }
}
