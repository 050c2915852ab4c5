/// Opens a byte stream to a peer: how the engine reaches an address without knowing the carrier.
///
/// TCP is `TCPDialer`; a uTP dialer, an `auto` dialer trying both, and an encrypting wrapper that
/// negotiates MSE/PE over what an inner dialer returns all conform too. Simulations hand the engine
/// a dialer that returns in-memory streams. `dial` is called on the loop's thread and `completion`
/// must run on it, exactly once.
public protocol PeerDialer {
    func dial(_ address: SocketAddress, loop: EventLoop, timeout: Double,
              completion: @escaping (Result<any ByteStream, NetError>) -> Void)
}

/// Plain TCP, non-blocking on the loop; from `local`'s address (`--bind`) when given and of the
/// peer's family (an IPv4 peer is dialled from the system's choice when we are bound to IPv6).
public struct TCPDialer: PeerDialer, Sendable {
    public let local: SocketAddress?

    public init(local: SocketAddress? = nil) { self.local = local }

    public func dial(_ address: SocketAddress, loop: EventLoop, timeout: Double,
                     completion: @escaping (Result<any ByteStream, NetError>) -> Void) {
        let from = local.flatMap { $0.family == address.family && !$0.isUnspecified ? SocketAddress(ipBytes: $0.ipBytes, port: 0) : nil }
        StreamChannel.connect(loop: loop, to: address, from: from, timeout: timeout) { result in
            completion(result.map { $0 as any ByteStream })
        }
    }
}
