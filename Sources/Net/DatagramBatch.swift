import CTTNet
import Glibc

/// Many UDP datagrams in and their replies out with one system call each (recvmmsg/sendmmsg),
/// for servers answering small requests at high rates (our UDP tracker). Each slot holds a
/// received datagram, its sender and room for one reply; buffers are reused, so a busy loop
/// allocates nothing per datagram. One thread at a time.
public final class DatagramBatch: @unchecked Sendable {
    public let capacity: Int
    public let replySize: Int
    private let handle: OpaquePointer

    public init(capacity: Int = 32, datagramSize: Int = 2048, replySize: Int = 4096) {
        guard let handle = tt_datagrams_create(Int32(capacity), Int32(datagramSize), Int32(replySize)) else {
            fatalError("out of memory for a datagram batch")
        }
        self.handle = handle
        self.capacity = capacity
        self.replySize = replySize
    }

    deinit { tt_datagrams_destroy(handle) }

    /// Waits until `deadline` for datagrams on `socket`, then takes as many as are waiting (up to
    /// `capacity`): how many (0 when the deadline passed first).
    public func receive(from socket: UDPSocket, deadline: Deadline) throws(NetError) -> Int {
        while true {
            let count = tt_datagrams_receive(handle, socket.fileDescriptor, 0)
            if count > 0 { return Int(count) }
            if count < 0 && -count != ECONNREFUSED {
                throw .system(operation: "recvmmsg", reason: String(cString: strerror(-count)))
            }
            guard SocketSupport.wait(socket.fileDescriptor, events: Int16(POLLIN), deadline: deadline) else { return 0 }
        }
    }

    /// `receive` for a socket made blocking (`UDPSocket.blockReceives`): one system call waits for
    /// the first datagram and takes the others waiting, and of several threads receiving on one
    /// socket only one is woken per datagram. 0 when the socket's timeout passed first.
    public func receiveBlocking(from socket: UDPSocket) throws(NetError) -> Int {
        let count = tt_datagrams_receive(handle, socket.fileDescriptor, 1)
        if count >= 0 || -count == ECONNREFUSED { return max(0, Int(count)) }
        throw .system(operation: "recvmmsg", reason: String(cString: strerror(-count)))
    }

    /// Slot `index`'s datagram; valid until the next `receive`.
    public func datagram(_ index: Int) -> UnsafeRawBufferPointer {
        var length: Int32 = 0
        let bytes = tt_datagrams_bytes(handle, Int32(index), &length)
        return UnsafeRawBufferPointer(start: bytes, count: Int(length))
    }

    /// Slot `index`'s sender: its IP bytes (IPv4 in the first 4 of the 16, the rest zero), their
    /// count (4 or 16; 0 for another family) and the port.
    public func sender(_ index: Int) -> (ip: (UInt64, UInt64), ipLength: Int, port: UInt16) {
        var ip: (UInt64, UInt64) = (0, 0)
        var port: UInt16 = 0
        let length = withUnsafeMutableBytes(of: &ip) {
            tt_datagrams_sender(handle, Int32(index), $0.baseAddress!.assumingMemoryBound(to: UInt8.self), &port)
        }
        return (ip, Int(length), port)
    }

    /// Room for slot `index`'s reply (`replySize` bytes); it is sent once given a length.
    public func reply(_ index: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: tt_datagrams_reply(handle, Int32(index)), count: replySize)
    }

    public func setReplyLength(_ index: Int, _ length: Int) {
        tt_datagrams_set_reply_length(handle, Int32(index), Int32(length))
    }

    /// Sends the replies of slots 0..<count that were given a length, each to its slot's sender.
    @discardableResult
    public func sendReplies(on socket: UDPSocket, count: Int) -> Int {
        Int(tt_datagrams_send_replies(handle, socket.fileDescriptor, Int32(count)))
    }
}
