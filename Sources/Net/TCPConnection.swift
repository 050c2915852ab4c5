import Glibc

/// A TCP stream used in blocking style with deadlines (for one-shot clients: HTTP
/// trackers, `tt handshake`, `tt fetch-piece`).
///
/// The socket itself is non-blocking; every call waits with poll(2) up to its deadline,
/// so nothing can hang for ever. Writes use MSG_NOSIGNAL: a peer that hung up is an error,
/// never a SIGPIPE.
///
/// ```swift
/// let address = try SocketAddress.resolve("tracker.example:80")
/// let connection = try TCPConnection.connect(to: address, timeout: 5)
/// try connection.send(Array("GET / HTTP/1.1\r\n\r\n".utf8), deadline: .after(5))
/// let bytes = try connection.receive(max: 65536, deadline: .after(5))   // [] means end of stream
/// ```
public final class TCPConnection: @unchecked Sendable {
    public let remote: SocketAddress
    public private(set) var fileDescriptor: Int32

    init(fd: Int32, remote: SocketAddress) {
        self.fileDescriptor = fd
        self.remote = remote
    }

    /// Connects within `timeout` seconds, optionally from a given local address.
    public static func connect(to address: SocketAddress, timeout: Double, from local: SocketAddress? = nil) throws(NetError) -> TCPConnection {
        let deadline = Deadline.after(timeout)
        let (fd, done) = try SocketSupport.startConnect(to: address, from: local)
        if !done {
            guard SocketSupport.wait(fd, events: Int16(POLLOUT), deadline: deadline) else {
                Glibc.close(fd)
                throw .timeout(what: "connecting to \(address) (after \(timeout) s)")
            }
            if let error = SocketSupport.finishConnect(fd, address) {
                Glibc.close(fd)
                throw error
            }
        }
        return TCPConnection(fd: fd, remote: address)
    }

    /// Resolves `host` and connects to the first address that answers, all within `timeout`.
    public static func connect(host: String, port: UInt16, timeout: Double, fromIP localIP: String? = nil) throws(NetError) -> TCPConnection {
        let deadline = Deadline.after(timeout)
        let addresses = try SocketAddress.resolve(host: host, port: port)
        var lastError = NetError.unreachable(address: "\(host):\(port)", reason: "no address")
        for address in addresses {
            // Bind to the local IP only for its own family (an IPv4 source cannot reach an IPv6 tracker).
            let local = localIP.flatMap { SocketAddress(ip: $0, port: 0) }.flatMap { $0.family == address.family ? $0 : nil }
            do throws(NetError) {
                return try connect(to: address, timeout: max(0.001, deadline.remaining), from: local)
            } catch {
                lastError = error
                if case .timeout = error { throw error }
            }
        }
        throw lastError
    }

    /// The local end's address.
    public var localAddress: SocketAddress? { SocketSupport.localAddress(fileDescriptor) }

    /// Writes every byte before `deadline`. With `more`, more bytes or `close()` follow at once: the
    /// kernel holds these for them (MSG_MORE), so a reply and the FIN of the close after it leave in
    /// one segment (a server answering one request per connection saves a packet and a wake-up of its
    /// client). Never set it without a write or a close to follow.
    public func send(_ bytes: [UInt8], deadline: Deadline = .never, more: Bool = false) throws(NetError) {
        let failure: NetError? = bytes.withUnsafeBytes { raw in
            do throws(NetError) { try send(raw, deadline: deadline, more: more); return nil } catch { return error }
        }
        if let failure { throw failure }
    }

    public func send(_ raw: UnsafeRawBufferPointer, deadline: Deadline = .never, more: Bool = false) throws(NetError) {
        guard fileDescriptor >= 0 else { throw .closed(address: remote.description) }
        let flags = Int32(MSG_NOSIGNAL) | (more ? Int32(MSG_MORE) : 0)
        var offset = 0
        while offset < raw.count {
            let written = Glibc.send(fileDescriptor, raw.baseAddress! + offset, raw.count - offset, flags)
            if written > 0 { offset += written; continue }
            let code = errno
            if written < 0 && code == EINTR { continue }
            if written < 0 && (code == EAGAIN || code == EWOULDBLOCK) {
                guard SocketSupport.wait(fileDescriptor, events: Int16(POLLOUT), deadline: deadline) else {
                    throw .timeout(what: "sending to \(remote)")
                }
                continue
            }
            if code == EPIPE || code == ECONNRESET { throw .closed(address: remote.description) }
            throw .system(operation: "send to \(remote)", reason: SocketSupport.errorText(code))
        }
    }

    /// Reads what is available (up to `max` bytes), waiting until `deadline` for at least one byte.
    /// Returns `[]` at end of stream; a reset by the peer is `.closed`.
    public func receive(max: Int = 65536, deadline: Deadline) throws(NetError) -> [UInt8] {
        guard fileDescriptor >= 0 else { throw .closed(address: remote.description) }
        var buffer = [UInt8](repeating: 0, count: max)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fileDescriptor, $0.baseAddress, max, 0) }
            if count >= 0 {
                buffer.removeSubrange(count...)
                return buffer
            }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK {
                guard SocketSupport.wait(fileDescriptor, events: Int16(POLLIN), deadline: deadline) else {
                    throw .timeout(what: "waiting for data from \(remote)")
                }
                continue
            }
            if code == ECONNRESET || code == EPIPE { throw .closed(address: remote.description) }
            throw .system(operation: "receive from \(remote)", reason: SocketSupport.errorText(code))
        }
    }

    /// Reads exactly `count` bytes before `deadline`; an early end of stream is `.closed`.
    public func receive(exactly count: Int, deadline: Deadline) throws(NetError) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(count)
        while result.count < count {
            let chunk = try receive(max: count - result.count, deadline: deadline)
            if chunk.isEmpty { throw .closed(address: remote.description) }
            result.append(contentsOf: chunk)
        }
        return result
    }

    /// Reads until the remote closes, up to `limit` bytes (more is an error).
    public func receiveAll(limit: Int, deadline: Deadline) throws(NetError) -> [UInt8] {
        var result: [UInt8] = []
        while true {
            let chunk = try receive(max: 65536, deadline: deadline)
            if chunk.isEmpty { return result }
            result.append(contentsOf: chunk)
            if result.count > limit {
                throw .system(operation: "receive from \(remote)", reason: "response larger than \(limit) bytes")
            }
        }
    }

    /// Stops sending (the remote sees end of stream) but keeps reading.
    public func shutdownWrite() {
        if fileDescriptor >= 0 { shutdown(fileDescriptor, Int32(SHUT_WR)) }
    }

    /// Stops reading: a thread blocked in `receive` wakes up and sees end of stream. Safe from
    /// another thread, unlike `close`, because the descriptor stays allocated.
    public func shutdownRead() {
        if fileDescriptor >= 0 { shutdown(fileDescriptor, Int32(SHUT_RD)) }
    }

    public func close() {
        if fileDescriptor >= 0 { Glibc.close(fileDescriptor) }
        fileDescriptor = -1
    }

    func abandon() { fileDescriptor = -1 }

    deinit { close() }
}
