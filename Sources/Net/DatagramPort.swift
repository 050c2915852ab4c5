import Glibc

/// One UDP socket on an `EventLoop`, shared by the DHT and uTP on a peer port, as other clients do.
///
/// A datagram whose first byte is `d` is a bencoded KRPC message (BEP 5) and goes to `onKRPC`;
/// everything else is uTP (BEP 29: its first byte is a version-1 type nibble pair, never `d`)
/// and goes to `onOther`. Callbacks run on the loop's thread; sends never block (a full send buffer
/// drops the datagram, as UDP may).
public final class DatagramPort {
    public let loop: EventLoop
    public private(set) var fileDescriptor: Int32
    public let family: SocketAddress.Family
    public var onKRPC: (([UInt8], SocketAddress) -> Void)?
    public var onOther: (([UInt8], SocketAddress) -> Void)?
    /// Totals, for statistics and tests.
    public private(set) var datagramsReceived = 0
    public private(set) var datagramsSent = 0
    private var buffer = [UInt8](repeating: 0, count: 65536)

    /// Binds `local` (port 0 picks one; read it back from `localAddress`) and starts receiving.
    public init(loop: EventLoop, bind local: SocketAddress) throws(NetError) {
        let socket = try UDPSocket(family: local.family, bind: local)
        self.loop = loop
        self.family = local.family
        self.fileDescriptor = socket.takeDescriptor()
        loop.watch(fileDescriptor, readable: true) { [weak self] _ in self?.receiveAvailable() }
    }

    public var localAddress: SocketAddress? { SocketSupport.localAddress(fileDescriptor) }

    /// Sends one datagram; false when it could not be sent (wrong family, buffer full, closed).
    @discardableResult
    public func send(_ bytes: [UInt8], to address: SocketAddress) -> Bool {
        guard fileDescriptor >= 0, address.family == family else { return false }
        while true {
            let sent = bytes.withUnsafeBytes { raw in
                address.withSockaddr { sendto(fileDescriptor, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL), $0, $1) }
            }
            if sent >= 0 { datagramsSent += 1; return true }
            if errno == EINTR { continue }
            return false
        }
    }

    public func close() {
        guard fileDescriptor >= 0 else { return }
        loop.unwatch(fileDescriptor)
        Glibc.close(fileDescriptor)
        fileDescriptor = -1
    }

    deinit { close() }

    private func receiveAvailable() {
        // Bounded per turn so a flood on this port cannot starve the loop's other descriptors.
        for _ in 0..<64 {
            guard fileDescriptor >= 0 else { return }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let count = buffer.withUnsafeMutableBytes { raw in
                withUnsafeMutablePointer(to: &storage) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        recvfrom(fileDescriptor, raw.baseAddress, raw.count, 0, $0, &length)
                    }
                }
            }
            if count < 0 {
                if errno == EINTR { continue }
                return  // EAGAIN, or an ICMP error queued for an earlier send: nothing to read now
            }
            guard let from = SocketAddress(storage: storage) else { continue }
            datagramsReceived += 1
            let datagram = Array(buffer[0..<count])
            if datagram.first == UInt8(ascii: "d") { onKRPC?(datagram, from) } else { onOther?(datagram, from) }
        }
    }
}

extension UDPSocket {
    /// Hands the descriptor to a new owner; this socket becomes closed.
    func takeDescriptor() -> Int32 {
        let fd = fileDescriptor
        fileDescriptor = -1
        return fd
    }
}
