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

/// Plain TCP, non-blocking on the loop.
public struct TCPDialer: PeerDialer, Sendable {
    public init() {}

    public func dial(_ address: SocketAddress, loop: EventLoop, timeout: Double,
                     completion: @escaping (Result<any ByteStream, NetError>) -> Void) {
        StreamChannel.connect(loop: loop, to: address, timeout: timeout) { result in
            completion(result.map { $0 as any ByteStream })
        }
    }
}
