import Glibc

/// Low-level helpers shared by the socket types; nothing here is public.
enum SocketSupport {
    static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }

    /// A non-blocking, close-on-exec socket.
    static func makeSocket(_ family: SocketAddress.Family, type: Int32) throws(NetError) -> Int32 {
        let fd = socket(family.raw, type | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            let code = errno
            if code == EAFNOSUPPORT {
                throw .unreachable(address: family == .ipv4 ? "IPv4" : "IPv6", reason: "address family not supported")
            }
            throw .system(operation: "socket", reason: errorText(code))
        }
        return fd
    }

    static func setNonBlocking(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFL, 0)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
    }

    static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) {
        var value = value
        _ = setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Waits until `fd` is ready for `events` (POLLIN/POLLOUT); false on timeout.
    static func wait(_ fd: Int32, events: Int16, deadline: Deadline) -> Bool {
        while true {
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let result = poll(&entry, 1, deadline.pollTimeout)
            if result > 0 { return true }
            if result == 0 { return false }
            if errno != EINTR { return true }  // let the caller's syscall report the error
            if deadline.hasPassed { return false }
        }
    }

    static func localAddress(_ fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return ok == 0 ? SocketAddress(storage: storage) : nil
    }

    static func connectError(_ code: Int32, _ address: SocketAddress) -> NetError {
        switch code {
        case ECONNREFUSED: return .refused(address: address.description)
        case ETIMEDOUT: return .timeout(what: "connecting to \(address)")
        case ENETUNREACH, EHOSTUNREACH, ENETDOWN, EHOSTDOWN, EADDRNOTAVAIL, EAFNOSUPPORT, EACCES, EPERM:
            return .unreachable(address: address.description, reason: errorText(code))
        default: return .unreachable(address: address.description, reason: errorText(code))
        }
    }

    /// Starts a non-blocking connect; returns the fd and whether it is already connected.
    static func startConnect(to address: SocketAddress, from local: SocketAddress?) throws(NetError) -> (Int32, Bool) {
        let fd = try makeSocket(address.family, type: Int32(SOCK_STREAM.rawValue))
        setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        if let local {
            setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
            let bound = local.withSockaddr { bind(fd, $0, $1) }
            if bound != 0 {
                let code = errno
                close(fd)
                throw .system(operation: "bind \(local)", reason: errorText(code))
            }
        }
        let result = address.withSockaddr { Glibc.connect(fd, $0, $1) }
        if result == 0 { return (fd, true) }
        let code = errno
        if code == EINPROGRESS || code == EINTR { return (fd, false) }
        close(fd)
        throw connectError(code, address)
    }

    /// The outcome of a non-blocking connect once the socket is writable.
    static func finishConnect(_ fd: Int32, _ address: SocketAddress) -> NetError? {
        var code: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length)
        return code == 0 ? nil : connectError(code, address)
    }
}
