import Foundation

/// Ports for the processes tests start. `tt` and libtorrent listen on port 0 and report the port they
/// got (a `listening` event, a `listening <port>` line). The other tools cannot, so `startListening`
/// gives them a candidate port and checks the started process itself then owns a listener on it,
/// retrying on a new candidate when someone else took the port first.

/// How a tool listens on a port it is given.
public enum PortUse: Sendable, CustomStringConvertible {
    case tcp, udp
    /// One number for both (opentracker's HTTP and UDP tracker, a BitTorrent client's TCP and uTP).
    case tcpAndUDP

    var protocols: [String] {
        switch self {
        case .tcp: return ["tcp"]
        case .udp: return ["udp"]
        case .tcpAndUDP: return ["tcp", "udp"]
        }
    }

    public var description: String { protocols.joined(separator: "+") }
}

/// A port number the kernel found free a moment ago on `host` (it binds port 0 and reads the number back).
/// Only a candidate: it is free until someone else binds it, so whoever is given it must be checked
/// (`startListening`).
public func candidatePort(host: String = "127.0.0.1", use: PortUse = .tcp) -> Int {
    let fd = socket(AF_INET, Int32(use.protocols.first == "udp" ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    inet_pton(AF_INET, host, &address.sin_addr)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Whether process `pid` (or a child of it: nginx's workers share the master's sockets) holds a socket
/// bound to `port` for `protocolName` ("tcp": listening; "udp": bound), on IPv4 or IPv6.
/// Read from /proc: the namespace's socket table gives the socket inodes on that port, the process's
/// fds say which sockets are its own.
public func ownsListener(pid: Int32, port: Int, protocolName: String) -> Bool {
    var inodes = Set<String>()
    for table in [protocolName, protocolName + "6"] {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/net/\(table)", encoding: .utf8) else { continue }
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            guard fields.count > 9, let portHex = fields[1].split(separator: ":").last, Int(portHex, radix: 16) == port else { continue }
            // TCP: only a listener (state 0A) counts, not a connection that happens to use the number.
            if protocolName == "tcp" && fields[3] != "0A" { continue }
            inodes.insert("socket:[\(fields[9])]")
        }
    }
    guard !inodes.isEmpty else { return false }
    var pids = [pid]
    if let children = try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8) {
        pids += children.split(separator: " ").compactMap { Int32($0) }
    }
    for owner in pids {
        let folder = "/proc/\(owner)/fd"
        for fd in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: folder + "/" + fd), inodes.contains(target) { return true }
        }
    }
    return false
}

public struct PortCollision: Error, CustomStringConvertible {
    public var description: String
}

/// Starts a tool that must be told its ports (it cannot listen on port 0 and report it): `start` gets one
/// candidate port per entry of `uses` (on `host`), and the started process must then own a listener on each
/// (`ownsListener`) within `timeout`. When it exits first or never listens — someone else took a port in the
/// meantime — it is stopped and started again on new candidates, up to `attempts` times.
/// The process comes back with `ports` set to the ports it listens on.
///
/// `finishesOnItsOwn`: a command that may complete before it is seen listening (a download);
/// an exit with status 0 is then its result, not a collision.
@discardableResult
public func startListening(_ what: String, host: String = "127.0.0.1", uses: [PortUse], attempts: Int = 4, timeout: Double = 30,
                           finishesOnItsOwn: Bool = false, _ start: ([Int]) throws -> ManagedProcess) throws -> ManagedProcess {
    var failures: [String] = []
    for attempt in 1...attempts {
        var ports: [Int] = []
        for use in uses {
            var port = candidatePort(host: host, use: use)
            // Several ports for one tool must differ (the kernel may hand out a number again once closed).
            while ports.contains(port) { port = candidatePort(host: host, use: use) }
            ports.append(port)
        }
        let process = try start(ports)
        let listening = { zip(uses, ports).allSatisfy { use, port in
            use.protocols.allSatisfy { ownsListener(pid: process.pid, port: port, protocolName: $0) } } }
        waitUntil(timeout: timeout) { !process.isRunning || listening() }
        if process.isRunning && listening() {
            process.ports = ports
            return process
        }
        if !process.isRunning && finishesOnItsOwn && process.process.terminationStatus == 0 {
            process.ports = ports
            return process
        }
        let state = process.isRunning ? "never listened within \(timeout) s" : "exited with status \(process.process.terminationStatus)"
        process.stop()
        failures.append("attempt \(attempt) on \(zip(uses, ports).map { "\($1)/\($0)" }.joined(separator: ", ")): \(state); output:\n\(process.log)")
    }
    throw PortCollision(description: "\(what) did not listen on its ports after \(attempts) attempts (taken by someone else, or it fails to start):\n"
                        + failures.joined(separator: "\n"))
}

/// A port on which connections are refused for as long as this is held: a socket bound to it that never
/// listens (TCP: the kernel answers a SYN with a reset) or is connected elsewhere (UDP: datagrams from
/// anyone else get ICMP port unreachable). Holding the port keeps anyone else from listening there,
/// which a port that was merely free a moment ago does not. `.tcpAndUDP` holds the number on both
/// (a peer dialled over TCP and uTP).
public final class RefusingPort: @unchecked Sendable {
    public let port: Int
    private var sockets: [Int32] = []

    public init(host: String = "127.0.0.1", use: PortUse = .tcp) {
        var attempt = 0
        while true {
            attempt += 1
            var held: [Int32] = []
            var number: UInt16 = 0
            for protocolName in use.protocols {
                guard let fd = Self.bound(host: host, protocolName: protocolName, port: number) else { break }
                held.append(fd)
                number = Self.localPort(fd)
            }
            if held.count == use.protocols.count {
                port = Int(number)
                sockets = held
                return
            }
            // The second protocol's number was taken: start again on another.
            held.forEach { Glibc.close($0) }
            precondition(attempt < 20, "cannot hold a \(use) port on \(host)")
        }
    }

    /// A socket of `protocolName` bound to `host:port` (UDP ones connected to port 9 of the host, so they
    /// take datagrams from nowhere else), or nil when the port is taken.
    private static func bound(host: String, protocolName: String, port: UInt16) -> Int32? {
        let udp = protocolName == "udp"
        let fd = socket(AF_INET, Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        let size = socklen_t(MemoryLayout<sockaddr_in>.size)
        guard withUnsafePointer(to: &address, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) } }) == 0 else {
            Glibc.close(fd)
            return nil
        }
        if udp {
            address.sin_port = UInt16(9).bigEndian
            _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, size) } }
        }
        return fd
    }

    private static func localPort(_ fd: Int32) -> UInt16 {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return UInt16(bigEndian: address.sin_port)
    }

    public func close() {
        sockets.forEach { Glibc.close($0) }
        sockets = []
    }

    deinit { close() }
}
