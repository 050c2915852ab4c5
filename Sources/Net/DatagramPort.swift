import CTTNet
import Glibc

/// One UDP socket on an `EventLoop`, shared by the DHT and uTP on a peer port, as other clients do.
///
/// A datagram whose first byte is `d` is a bencoded KRPC message (BEP 5) and goes to `onKRPC`;
/// everything else is uTP (BEP 29: its first byte is a version-1 type nibble pair, never `d`)
/// and goes to `onDatagrams`. Callbacks run on the loop's thread; sends never block (a full send
/// buffer drops the datagram, as UDP may). Datagrams are read in batches (one recvmmsg(2) for up to
/// `batchSize`) into one reused buffer: `onDatagrams` gets a batch's datagrams where they lie in
/// that buffer, valid until it returns (nothing is copied per datagram, and the handler is called
/// once per batch, not per datagram).
public final class DatagramPort {
    public let loop: EventLoop
    public private(set) var fileDescriptor: Int32
    public let family: SocketAddress.Family
    public var onKRPC: (([UInt8], SocketAddress) -> Void)?
    /// One datagram of a batch: its bytes in the port's receive buffer, and its sender.
    public struct Datagram {
        public let bytes: UnsafeRawBufferPointer
        public let from: SocketAddress
    }
    /// Each batch read that holds anything but KRPC, those datagrams in the order they came.
    public var onDatagrams: (([Datagram]) -> Void)?
    /// An ICMP error came back for a datagram we sent to this address (errno: ECONNREFUSED when its
    /// host has nothing on that port, EHOSTUNREACH, …): a uTP dial there can fail now, not at its timeout.
    public var onUnreachable: ((SocketAddress, Int32) -> Void)?
    /// Totals, for statistics and tests.
    public private(set) var datagramsReceived = 0
    public private(set) var datagramsSent = 0
    public private(set) var batchesReceived = 0
    /// Datagrams longer than a slot (dropped).
    public private(set) var oversizedDatagrams = 0
    /// How long the last datagram of the current batch waited in the kernel before we read it
    /// (seconds; nil when unknown): our scheduling lag, which is not network queuing.
    public private(set) var receiveLag: Double?

    /// A fast peer fills a batch of 32 between two reads: bigger batches mean fewer acks (one per
    /// connection per batch) and fewer wake-ups for the senders.
    static let batchSize = 128
    /// Bigger than any uTP packet or KRPC message on a 1500-byte (or 4 KiB) MTU path; longer ones are dropped.
    static let slotSize = 4096
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: DatagramPort.batchSize * DatagramPort.slotSize,
                                                               alignment: 16)
    private let infos = UnsafeMutableBufferPointer<tt_datagram_info>.allocate(capacity: DatagramPort.batchSize)
    /// The batch being handed out (kept: its storage is reused).
    private var batch: [Datagram] = []
    /// The last sender seen, so a batch from a few peers builds few `SocketAddress`es.
    private var lastStorage = sockaddr_storage()
    private var lastAddress: SocketAddress?

    /// Binds `local` (port 0 picks one; read it back from `localAddress`) and starts receiving.
    public init(loop: EventLoop, bind local: SocketAddress) throws(NetError) {
        infos.initialize(repeating: tt_datagram_info())
        let socket: UDPSocket
        do { socket = try UDPSocket(family: local.family, bind: local) } catch {
            buffer.deallocate()
            infos.deallocate()
            throw error
        }
        self.loop = loop
        self.family = local.family
        self.fileDescriptor = socket.takeDescriptor()
        _ = tt_enable_icmp_errors(fileDescriptor, local.family == .ipv6 ? 1 : 0)
        loop.watch(fileDescriptor, readable: true) { [weak self] events in
            if events.contains(.failed) { self?.readErrors() }
            self?.receiveAvailable()
        }
    }

    public var localAddress: SocketAddress? { SocketSupport.localAddress(fileDescriptor) }

    /// Sends one datagram; false when it could not be sent (wrong family, buffer full, closed).
    @discardableResult
    public func send(_ bytes: [UInt8], to address: SocketAddress) -> Bool {
        guard fileDescriptor >= 0, address.family == family else { return false }
        var reportedError = false
        while true {
            let sent = bytes.withUnsafeBytes { raw in
                address.withSockaddr { sendto(fileDescriptor, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL), $0, $1) }
            }
            if sent >= 0 { datagramsSent += 1; return true }
            if errno == EINTR { continue }
            // With ICMP errors on (IP_RECVERR), the kernel fails the next send with the last one's
            // error (ECONNREFUSED: someone else's port unreachable) without sending: take the queued
            // reports, then send again.
            if !reportedError && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS {
                reportedError = true
                readErrors()
                continue
            }
            return false
        }
    }

    public func close() {
        guard fileDescriptor >= 0 else { return }
        loop.unwatch(fileDescriptor)
        Glibc.close(fileDescriptor)
        fileDescriptor = -1
    }

    deinit {
        close()
        buffer.deallocate()
        infos.deallocate()
    }

    private func receiveAvailable() {
        // Bounded per turn so a flood on this port cannot starve the loop's other descriptors.
        for _ in 0..<2 {
            guard fileDescriptor >= 0 else { return }
            let count = tt_receive_datagrams(fileDescriptor, buffer.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                             Int32(Self.slotSize), Int32(Self.batchSize), infos.baseAddress)
            // 0: nothing waits; -1: e.g. an ICMP error for an earlier send (the queue says which).
            if count < 0 { readErrors() }
            guard count > 0 else { return }
            batchesReceived += 1
            datagramsReceived += Int(count)
            receiveLag = Self.kernelLag(fileDescriptor)
            batch.removeAll(keepingCapacity: true)
            for index in 0..<Int(count) {
                let info = infos[index]
                guard info.truncated == 0 else { oversizedDatagrams += 1; continue }
                guard let from = address(of: index) else { continue }
                let datagram = UnsafeRawBufferPointer(start: buffer.baseAddress! + index * Self.slotSize, count: Int(info.length))
                if datagram.first == UInt8(ascii: "d") {
                    onKRPC?(Array(datagram), from)
                    if fileDescriptor < 0 { return }
                } else {
                    batch.append(Datagram(bytes: datagram, from: from))
                }
            }
            if !batch.isEmpty, let onDatagrams { onDatagrams(batch) }
            batch.removeAll(keepingCapacity: true)  // its pointers are good only until the next read
            if Int(count) < Self.batchSize { return }
        }
    }

    /// Drains the socket's error queue (bounded: a flood of ICMP cannot hold the loop).
    private func readErrors() {
        var info = tt_datagram_info()
        var error: Int32 = 0
        for _ in 0..<64 {
            guard fileDescriptor >= 0, tt_read_icmp_error(fileDescriptor, &info, &error) == 1 else { return }
            let storage = withUnsafeBytes(of: &info.address) { $0.loadUnaligned(as: sockaddr_storage.self) }
            if error != 0, let address = SocketAddress(storage: storage) { onUnreachable?(address, error) }
        }
    }

    private func address(of index: Int) -> SocketAddress? {
        let same = withUnsafeBytes(of: &infos[index].address) { new in
            withUnsafeBytes(of: &lastStorage) { old in memcmp(new.baseAddress!, old.baseAddress!, MemoryLayout<sockaddr_in6>.size) == 0 }
        }
        if same, let lastAddress { return lastAddress }
        lastStorage = withUnsafeBytes(of: &infos[index].address) { $0.loadUnaligned(as: sockaddr_storage.self) }
        lastAddress = SocketAddress(storage: lastStorage)
        return lastAddress
    }

    /// The wall clock's distance to the last read datagram's kernel receive time (SIOCGSTAMP, 0x8906 in
    /// <linux/sockios.h>; the first call turns timestamping on for the socket).
    static func kernelLag(_ fd: Int32) -> Double? {
        var stamp = timeval()
        guard ioctl(fd, 0x8906, &stamp) == 0 else { return nil }
        var wall = timespec()
        clock_gettime(CLOCK_REALTIME, &wall)
        let lag = (Double(wall.tv_sec) + Double(wall.tv_nsec) / 1e9) - (Double(stamp.tv_sec) + Double(stamp.tv_usec) / 1e6)
        return lag >= 0 && lag < 10 ? lag : nil
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
