import Glibc

/// A non-blocking TCP connection driven by an `EventLoop`: data arrives through `onData`,
/// writes are buffered and flushed when the socket is writable.
///
/// Back-pressure: `bufferedBytes` tells how much is waiting to go out; `onDrained` fires when
/// the buffer has emptied, so a server can produce more only when the peer keeps up.
public final class StreamChannel {
    public let loop: EventLoop
    public let remote: SocketAddress
    public private(set) var fileDescriptor: Int32
    /// Called with each chunk read: a slice of the loop's shared receive buffer, valid only during
    /// the call (copy what must outlive it — a kept slice would make the next read copy the buffer).
    public var onData: ((ArraySlice<UInt8>) -> Void)?
    /// Called once when the connection ends: nil for an orderly end of stream from the remote,
    /// or the error. Not called after a local `close()`.
    public var onClose: ((NetError?) -> Void)?
    /// Called from the loop when every buffered byte has been written (not from inside `write`,
    /// so a producer that writes in a loop never recurses).
    public var onDrained: (() -> Void)?

    /// What waits to go out, oldest first from `outgoingHead`; the first run's first
    /// `outgoingOffset` bytes are already sent.
    private var outgoing: [ArraySlice<UInt8>] = []
    private var outgoingHead = 0
    private var outgoingOffset = 0
    public private(set) var bufferedBytes = 0
    private var connecting = false
    /// Totals, for statistics.
    public private(set) var bytesRead: Int64 = 0
    public private(set) var bytesWritten: Int64 = 0
    /// When true, the loop stops reading (the peer's data waits in the kernel).
    public var pausedReading = false { didSet { updateInterest() } }

    /// Adopts a connected `TCPConnection` (its descriptor now belongs to the channel).
    public init(loop: EventLoop, connection: TCPConnection) {
        self.loop = loop
        self.remote = connection.remote
        self.fileDescriptor = connection.takeDescriptor()
    }

    init(loop: EventLoop, fd: Int32, remote: SocketAddress, connecting: Bool) {
        self.loop = loop
        self.remote = remote
        self.fileDescriptor = fd
        self.connecting = connecting
    }

    /// Starts a connect on the loop; `completion` gets the channel or the error (timeouts included).
    public static func connect(loop: EventLoop, to address: SocketAddress, from local: SocketAddress? = nil, timeout: Double,
                               completion: @escaping (Result<StreamChannel, NetError>) -> Void) {
        let fd: Int32
        let done: Bool
        do throws(NetError) {
            (fd, done) = try SocketSupport.startConnect(to: address, from: local)
        } catch {
            loop.schedule(after: 0) { completion(.failure(error)) }
            return
        }
        let channel = StreamChannel(loop: loop, fd: fd, remote: address, connecting: !done)
        if done {
            loop.schedule(after: 0) { completion(.success(channel)) }
            return
        }
        var finished = false
        let timer = loop.schedule(after: timeout) {
            guard !finished else { return }
            finished = true
            channel.close()
            completion(.failure(.timeout(what: "connecting to \(address) (after \(timeout) s)")))
        }
        loop.watch(fd, readable: false, writable: true) { _ in
            guard !finished else { return }
            finished = true
            loop.cancel(timer)
            loop.unwatch(fd)
            channel.connecting = false
            if let error = SocketSupport.finishConnect(fd, address) {
                channel.close()
                completion(.failure(error))
            } else {
                completion(.success(channel))
            }
        }
    }

    /// Begins reading; set `onData` / `onClose` first.
    public func start() {
        guard fileDescriptor >= 0 else { return }
        loop.watch(fileDescriptor, readable: !pausedReading, writable: bufferedBytes > 0) { [weak self] events in
            self?.handle(events)
        }
    }

    public var isOpen: Bool { fileDescriptor >= 0 }

    /// Queues bytes; they are written as fast as the peer takes them.
    public func write(_ bytes: [UInt8]) {
        write(chunks: [bytes[...]])
    }

    /// Queues the slices themselves (no copy); they are sent together with `sendmsg`.
    public func write(chunks: [ArraySlice<UInt8>]) {
        guard fileDescriptor >= 0 else { return }
        let wasEmpty = bufferedBytes == 0
        for chunk in chunks where !chunk.isEmpty {
            outgoing.append(chunk)
            bufferedBytes += chunk.count
        }
        if wasEmpty && bufferedBytes > 0 { flush(fromLoop: false) }
        updateInterest()
    }

    /// Closes at once; buffered bytes are dropped.
    public func close() {
        guard fileDescriptor >= 0 else { return }
        loop.unwatch(fileDescriptor)
        Glibc.close(fileDescriptor)
        fileDescriptor = -1
        outgoing = []
        outgoingHead = 0
        outgoingOffset = 0
        bufferedBytes = 0
    }

    private func fail(_ error: NetError?) {
        guard fileDescriptor >= 0 else { return }
        close()
        onClose?(error)
    }

    private func updateInterest() {
        guard fileDescriptor >= 0 else { return }
        loop.setInterest(fileDescriptor, readable: !pausedReading, writable: bufferedBytes > 0)
    }

    private func handle(_ events: EventLoop.Events) {
        if events.contains(.writable) || (events.contains(.failed) && bufferedBytes > 0) { flush(fromLoop: true) }
        if fileDescriptor >= 0 && (events.contains(.readable) || events.contains(.failed)) && !pausedReading { readAvailable() }
        else if fileDescriptor >= 0 && events.contains(.failed) && pausedReading { readAvailable() }
    }

    private func readAvailable() {
        // A bounded number of reads per turn keeps one fast peer from starving the others.
        for _ in 0..<4 {
            guard fileDescriptor >= 0, !pausedReading else { return }
            // 256 KiB, shared by the loop's channels: a fast peer's data arrives in a few large reads.
            if loop.sharedReadBuffer.isEmpty { loop.sharedReadBuffer = [UInt8](repeating: 0, count: EventLoop.readBufferSize) }
            let count = loop.sharedReadBuffer.withUnsafeMutableBytes { recv(fileDescriptor, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                bytesRead += Int64(count)
                onData?(loop.sharedReadBuffer[0..<count])
                if count < EventLoop.readBufferSize { return }
                continue
            }
            if count == 0 { fail(nil); return }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { return }
            if code == ECONNRESET || code == EPIPE { fail(.closed(address: remote.description)); return }
            fail(.system(operation: "receive from \(remote)", reason: SocketSupport.errorText(code)))
            return
        }
    }

    private func flush(fromLoop: Bool) {
        while fileDescriptor >= 0, outgoingHead < outgoing.count {
            let written = sendQueued()
            if written > 0 {
                bytesWritten += Int64(written)
                bufferedBytes -= written
                consume(written)
                continue
            }
            let code = errno
            if written < 0 && code == EINTR { continue }
            if written < 0 && (code == EAGAIN || code == EWOULDBLOCK) { break }
            if code == EPIPE || code == ECONNRESET { fail(.closed(address: remote.description)); return }
            fail(.system(operation: "send to \(remote)", reason: SocketSupport.errorText(code)))
            return
        }
        if outgoingHead == outgoing.count {
            outgoing.removeAll(keepingCapacity: true)
            outgoingHead = 0
        } else if outgoingHead >= 1024 && outgoingHead * 2 >= outgoing.count {
            // A stream that never quite drains would keep every sent run's slot: shift them out.
            outgoing.removeFirst(outgoingHead)
            outgoingHead = 0
        }
        updateInterest()
        if fromLoop && bufferedBytes == 0 && fileDescriptor >= 0 { onDrained?() }
    }
}

extension StreamChannel {
    /// Most runs one `sendmsg` takes (Linux allows 1024; 64 already fill the socket's buffer).
    private static let sendBatch = 64

    /// One `sendmsg` of the queued runs from the head; what it returns.
    private func sendQueued() -> Int {
        let end = min(outgoing.count, outgoingHead + Self.sendBatch)
        var vectors: [iovec] = []
        vectors.reserveCapacity(end - outgoingHead)
        return withVectors(outgoingHead, end, skipping: outgoingOffset, &vectors) { pinned in
            var pinned = pinned
            return pinned.withUnsafeMutableBufferPointer { buffer in
                var message = msghdr()
                message.msg_iov = buffer.baseAddress
                message.msg_iovlen = buffer.count
                return sendmsg(fileDescriptor, &message, Int32(MSG_NOSIGNAL))
            }
        }
    }

    /// Pins runs `index..<end` and calls `body` with their vectors (nested, so every pointer stays valid).
    private func withVectors(_ index: Int, _ end: Int, skipping offset: Int, _ vectors: inout [iovec],
                             _ body: ([iovec]) -> Int) -> Int {
        guard index < end else { return body(vectors) }
        return outgoing[index].withUnsafeBytes { raw in
            vectors.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: raw.baseAddress! + offset), iov_len: raw.count - offset))
            return withVectors(index + 1, end, skipping: 0, &vectors, body)
        }
    }

    /// Drops `count` sent bytes from the head of the queue.
    private func consume(_ count: Int) {
        var left = count
        while left > 0 {
            let rest = outgoing[outgoingHead].count - outgoingOffset
            if left < rest { outgoingOffset += left; return }
            left -= rest
            outgoing[outgoingHead] = []
            outgoingHead += 1
            outgoingOffset = 0
        }
    }
}

extension TCPConnection {
    /// Hands the descriptor to a new owner; this connection becomes closed.
    func takeDescriptor() -> Int32 {
        let fd = fileDescriptor
        abandon()
        return fd
    }
}
