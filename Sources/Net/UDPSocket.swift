import Glibc

/// A UDP socket for request/response protocols (UDP trackers, BEP 15).
///
/// ```swift
/// let socket = try UDPSocket(family: tracker.family)
/// try socket.send(request, to: tracker)
/// let (reply, from) = try socket.receive(deadline: .after(15))
/// ```
public final class UDPSocket: @unchecked Sendable {
    public internal(set) var fileDescriptor: Int32
    public let family: SocketAddress.Family

    /// Opens a socket of `family`, bound to `local` (default: any address, any port).
    public init(family: SocketAddress.Family, bind local: SocketAddress? = nil) throws(NetError) {
        let fd = try SocketSupport.makeSocket(family, type: Int32(SOCK_DGRAM.rawValue))
        if let local {
            let bound = local.withSockaddr { Glibc.bind(fd, $0, $1) }
            guard bound == 0 else {
                let code = errno
                Glibc.close(fd)
                throw .system(operation: "bind \(local)", reason: SocketSupport.errorText(code))
            }
        }
        self.fileDescriptor = fd
        self.family = family
    }

    public var localAddress: SocketAddress? { SocketSupport.localAddress(fileDescriptor) }

    /// Sends one datagram.
    public func send(_ bytes: [UInt8], to address: SocketAddress) throws(NetError) {
        guard address.family == family else {
            throw .unreachable(address: address.description, reason: "socket is \(family == .ipv4 ? "IPv4" : "IPv6")")
        }
        while true {
            let sent = bytes.withUnsafeBytes { raw in
                address.withSockaddr { sendto(fileDescriptor, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL), $0, $1) }
            }
            if sent >= 0 { return }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK {
                _ = SocketSupport.wait(fileDescriptor, events: Int16(POLLOUT), deadline: .after(1))
                continue
            }
            throw SocketSupport.connectError(code, address)
        }
    }

    /// Waits until `deadline` for one datagram (truncated to `max` bytes).
    public func receive(deadline: Deadline, max: Int = 65536) throws(NetError) -> (bytes: [UInt8], from: SocketAddress) {
        var buffer = [UInt8](repeating: 0, count: max)
        while true {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let count = buffer.withUnsafeMutableBytes { raw in
                withUnsafeMutablePointer(to: &storage) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        recvfrom(fileDescriptor, raw.baseAddress, max, 0, $0, &length)
                    }
                }
            }
            if count >= 0 {
                buffer.removeSubrange(count...)
                return (buffer, SocketAddress(storage: storage) ?? SocketAddress.any(family))
            }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK {
                guard SocketSupport.wait(fileDescriptor, events: Int16(POLLIN), deadline: deadline) else {
                    throw .timeout(what: "waiting for a UDP reply")
                }
                continue
            }
            if code == ECONNREFUSED { throw .refused(address: "UDP peer") }
            throw .system(operation: "recvfrom", reason: SocketSupport.errorText(code))
        }
    }

    /// Makes receives block, for at most `timeout` seconds each (SO_RCVTIMEO), for a server
    /// thread that does nothing but receive on this socket (`DatagramBatch.receiveBlocking`).
    /// `receive(deadline:)` then waits at most `timeout` whatever its deadline.
    public func blockReceives(timeout: Double) {
        let flags = fcntl(fileDescriptor, F_GETFL, 0)
        _ = fcntl(fileDescriptor, F_SETFL, flags & ~O_NONBLOCK)
        var limit = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1_000_000))
        _ = setsockopt(fileDescriptor, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }

    public func close() {
        if fileDescriptor >= 0 { Glibc.close(fileDescriptor) }
        fileDescriptor = -1
    }

    deinit { close() }
}
