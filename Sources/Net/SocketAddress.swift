import Glibc

/// An IPv4 or IPv6 address and port, as numbers (no host names; see `resolve`).
///
/// Text form is `1.2.3.4:6881` or `[::1]:6881` — the `addr` of every JSON peer (README, "Output and exit codes"), and what
/// `tt handshake` and `--peer` accept.
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    public enum Family: Sendable, Hashable {
        case ipv4, ipv6
        var raw: Int32 { self == .ipv4 ? AF_INET : AF_INET6 }
    }

    /// 4 bytes (IPv4) or 16 bytes (IPv6), network order.
    public let ipBytes: [UInt8]
    public let port: UInt16

    public var family: Family { ipBytes.count == 4 ? .ipv4 : .ipv6 }

    /// From raw address bytes (4 or 16) and a port.
    public init?(ipBytes: [UInt8], port: UInt16) {
        guard ipBytes.count == 4 || ipBytes.count == 16 else { return nil }
        self.ipBytes = ipBytes
        self.port = port
    }

    /// From a numeric IP literal (`127.0.0.1`, `::1`, `[::1]`) and a port; nil for anything else.
    public init?(ip: String, port: UInt16) {
        var text = ip
        if text.hasPrefix("["), text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self.ipBytes = withUnsafeBytes(of: &v4) { Array($0) }
            self.port = port
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            self.ipBytes = withUnsafeBytes(of: &v6) { Array($0) }
            self.port = port
            return
        }
        return nil
    }

    /// Parses `IP:PORT` or `[IPv6]:PORT` with a numeric IP.
    public init(parsing text: String) throws(NetError) {
        let (host, port) = try SocketAddress.split(text)
        guard let address = SocketAddress(ip: host, port: port) else { throw .badAddress(text) }
        self = address
    }

    /// Splits `host:port` / `[v6]:port` into its parts without resolving (host may be a name).
    public static func split(_ text: String) throws(NetError) -> (host: String, port: UInt16) {
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw .badAddress(text) }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw .badAddress(text) }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw .badAddress(text) }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { throw .badAddress(text) }  // bare IPv6 needs brackets
        }
        guard !host.isEmpty, let port = UInt16(portText), port > 0 else { throw .badAddress(text) }
        return (String(host), port)
    }

    /// Resolves a host name or IP literal with getaddrinfo; numeric literals never touch DNS.
    public static func resolve(host: String, port: UInt16, family: Family? = nil) throws(NetError) -> [SocketAddress] {
        if let literal = SocketAddress(ip: host, port: port) {
            if let family, literal.family != family {
                throw .unreachable(address: literal.description, reason: "not an \(family == .ipv4 ? "IPv4" : "IPv6") address")
            }
            return [literal]
        }
        var hints = addrinfo()
        hints.ai_family = family?.raw ?? AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw .dns(host: host, reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(first) }
        var results: [SocketAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            if let address = entry.pointee.ai_addr.flatMap({ SocketAddress(sockaddr: $0) }), !results.contains(address) {
                results.append(address)
            }
            cursor = entry.pointee.ai_next
        }
        guard !results.isEmpty else { throw .dns(host: host, reason: "no addresses") }
        return results
    }

    /// Parses `host:port` and resolves the host; the first address wins.
    public static func resolve(_ text: String) throws(NetError) -> SocketAddress {
        let (host, port) = try split(text)
        return try resolve(host: host, port: port)[0]
    }

    /// The IP alone: `127.0.0.1` or `::1`.
    /// 127.0.0.0/8 or ::1.
    public var isLoopback: Bool {
        ipBytes.count == 4 ? ipBytes[0] == 127 : ipBytes == [UInt8](repeating: 0, count: 15) + [1]
    }

    /// 0.0.0.0 or ::.
    public var isUnspecified: Bool { ipBytes.allSatisfy { $0 == 0 } }

    public var ip: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        ipBytes.withUnsafeBytes { raw in
            _ = inet_ntop(family.raw, raw.baseAddress, &buffer, socklen_t(buffer.count))
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var description: String { family == .ipv4 ? "\(ip):\(port)" : "[\(ip)]:\(port)" }

    /// The wildcard address of a family (for binding).
    public static func any(_ family: Family, port: UInt16 = 0) -> SocketAddress {
        SocketAddress(ipBytes: [UInt8](repeating: 0, count: family == .ipv4 ? 4 : 16), port: port)!
    }

    // MARK: - sockaddr conversion

    init?(sockaddr pointer: UnsafePointer<sockaddr>) {
        switch Int32(pointer.pointee.sa_family) {
        case AF_INET:
            let value = pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee }
            var address = value.sin_addr
            self.ipBytes = withUnsafeBytes(of: &address) { Array($0) }
            self.port = UInt16(bigEndian: value.sin_port)
        case AF_INET6:
            let value = pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee }
            var address = value.sin6_addr
            self.ipBytes = withUnsafeBytes(of: &address) { Array($0) }
            self.port = UInt16(bigEndian: value.sin6_port)
        default:
            return nil
        }
    }

    init?(storage: sockaddr_storage) {
        var copy = storage
        guard let address = withUnsafePointer(to: &copy, {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { SocketAddress(sockaddr: $0) }
        }) else { return nil }
        self = address
    }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        if family == .ipv4 {
            var value = sockaddr_in()
            value.sin_family = sa_family_t(AF_INET)
            value.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &value.sin_addr) { $0.copyBytes(from: ipBytes) }
            return withUnsafePointer(to: &value) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        var value = sockaddr_in6()
        value.sin6_family = sa_family_t(AF_INET6)
        value.sin6_port = port.bigEndian
        withUnsafeMutableBytes(of: &value.sin6_addr) { $0.copyBytes(from: ipBytes) }
        return withUnsafePointer(to: &value) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
    }
}
