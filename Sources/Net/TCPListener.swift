import CTTNet
import Glibc

/// A listening TCP socket (non-blocking). Use `accept(deadline:)` in blocking style, or
/// watch `fileDescriptor` on an `EventLoop` and call `acceptNext()` when it is readable.
public final class TCPListener: @unchecked Sendable {
    public private(set) var fileDescriptor: Int32
    /// The bound address (with the real port when bound to port 0).
    public let localAddress: SocketAddress

    public init(bind address: SocketAddress, backlog: Int32 = 128) throws(NetError) {
        let fd = try SocketSupport.makeSocket(address.family, type: Int32(SOCK_STREAM.rawValue))
        SocketSupport.setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
        if address.family == .ipv6 { SocketSupport.setOption(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 1) }
        let bound = address.withSockaddr { Glibc.bind(fd, $0, $1) }
        guard bound == 0, listen(fd, backlog) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw .system(operation: "listen on \(address)", reason: SocketSupport.errorText(code))
        }
        self.fileDescriptor = fd
        self.localAddress = SocketSupport.localAddress(fd) ?? address
    }

    /// Accepts one pending connection without waiting: nil when none is pending.
    public func acceptNext() throws(NetError) -> TCPConnection? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        while true {
            // Non-blocking and close-on-exec from the start: three fcntl calls fewer per connection
            // (a tracker accepts one per announce).
            let fd = tt_accept_nonblocking(fileDescriptor, &storage, &length)
            if fd >= 0 {
                SocketSupport.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
                let remote = SocketAddress(storage: storage) ?? SocketAddress.any(localAddress.family)
                return TCPConnection(fd: fd, remote: remote)
            }
            let code = errno
            if code == EINTR || code == ECONNABORTED { continue }
            if code == EAGAIN || code == EWOULDBLOCK { return nil }
            throw .system(operation: "accept on \(localAddress)", reason: SocketSupport.errorText(code))
        }
    }

    /// Waits until `deadline` for a connection.
    public func accept(deadline: Deadline) throws(NetError) -> TCPConnection {
        while true {
            if let connection = try acceptNext() { return connection }
            guard SocketSupport.wait(fileDescriptor, events: Int16(POLLIN), deadline: deadline) else {
                throw .timeout(what: "waiting for a connection on \(localAddress)")
            }
        }
    }

    /// Makes accepts block, for at most `timeout` seconds each (SO_RCVTIMEO), for a thread that
    /// does nothing but accept: one system call per connection instead of accept, poll, accept.
    /// `acceptNext()` then waits up to `timeout`; accepted connections stay non-blocking.
    public func blockAccepts(timeout: Double) {
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
