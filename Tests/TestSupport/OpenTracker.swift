import Foundation

/// Debian's opentracker on loopback, HTTP and UDP on one port, serving only the whitelisted
/// info hashes (its Debian build is whitelist-only). Stopped by pid on `stop()` or deinit.
public final class OpenTracker: @unchecked Sendable {
    public let port: Int
    public let process: ManagedProcess
    private let folder: TemporaryDirectory

    /// Starts opentracker for `infoHashes` (40 hex each) on a port it is checked to own (`startListening`).
    public init(whitelist infoHashes: [String]) throws {
        guard let binary = RealTools.opentracker else { throw RealToolError.missing("opentracker") }
        folder = TemporaryDirectory("tt-opentracker")
        folder.write("whitelist", Array((infoHashes.joined(separator: "\n") + "\n").utf8))
        // The whitelist path is read inside the chroot (-d).
        folder.write("opentracker.conf", Array("access.whitelist /whitelist\n".utf8))
        // opentracker drops to an unprivileged user after the chroot: mkdtemp's 0700 would hide the list.
        chmod(folder.path, 0o755)
        chmod(folder.file("whitelist"), 0o644)
        let configuration = folder.file("opentracker.conf"), root = folder.path
        process = try startListening("opentracker", uses: [.tcpAndUDP]) { ports in
            try ManagedProcess(binary, ["-f", configuration, "-d", root, "-i", "127.0.0.1",
                                        "-p", String(ports[0]), "-P", String(ports[0])], label: "opentracker")
        }
        port = process.port
    }

    public var httpURL: String { "http://127.0.0.1:\(port)/announce" }
    public var udpURL: String { "udp://127.0.0.1:\(port)" }

    public func stop() { process.stop() }
    deinit { process.stop() }
}

public enum RealToolError: Error, CustomStringConvertible {
    case missing(String)
    case failed(String)
    public var description: String {
        switch self {
        case .missing(let tool): return "\(tool) is not installed and could not be installed"
        case .failed(let why): return why
        }
    }
}
