import Foundation
import Synchronization

/// The real implementations we test against (Debian packages that `scripts/install-tools` installs).
public enum RealTools {
    private static let installed = Mutex<[String: Bool]>([:])

    /// The system Python that has `python3-libtorrent` (not the pyenv one first on PATH).
    public static let systemPython = "/usr/bin/python3"

    /// Whether a Debian package's file is here. Tests never install anything: `scripts/install-tools`
    /// does, once, before `swift test` (scripts/test runs it), so a missing tool is a failed precondition.
    @discardableResult
    public static func ensure(_ package: String, probe: String) -> Bool {
        if let known = installed.withLock({ $0[package] }) { return known }
        let ok = FileManager.default.fileExists(atPath: probe)
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
    /// True when `import libtorrent` works under the system Python (whatever its minor version).
    public static var libtorrent: Bool {
        if let known = installed.withLock({ $0["python3-libtorrent"] }) { return known }
        let ok = pythonHasLibtorrent()
        installed.withLock { $0["python3-libtorrent"] = ok }
        return ok
    }

    static func pythonHasLibtorrent() -> Bool {
        runCommand(systemPython, ["-c", "import libtorrent"], timeout: 60).status == 0
    }

    /// Runs a Python script under the system Python with arguments; returns status and output.
    public static func python(_ script: String, _ arguments: [String] = [], timeout: Double = 300) -> (status: Int32, output: String) {
        runCommand(systemPython, ["-c", script] + arguments, timeout: timeout)
    }
}
