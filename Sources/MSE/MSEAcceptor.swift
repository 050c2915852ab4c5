import Net

/// Answers incoming streams for the torrents in `infoHashes` under `policy`: MSE/PE when the
/// peer starts with a DH key, a plain handshake passed through when the policy allows it.
/// Peers that fail go to `onRefused` with the reason (for peer events and logs).
public struct MSEAcceptor: StreamAcceptor {
    public let policy: EncryptionPolicy
    public let infoHashes: [[UInt8]]
    /// Longest the exchange may take: 532 bytes of padding that never end in the sync pattern
    /// are dropped at once, a peer that stops sending after this.
    public let timeout: Double
    public var onRefused: ((SocketAddress, MSEConnectionError) -> Void)?

    public init(policy: EncryptionPolicy, infoHashes: [[UInt8]], timeout: Double = 20,
                onRefused: ((SocketAddress, MSEConnectionError) -> Void)? = nil) {
        self.policy = policy
        self.infoHashes = infoHashes
        self.timeout = timeout
        self.onRefused = onRefused
    }

    public func accept(_ stream: any ByteStream, loop: EventLoop, completion: @escaping (any ByteStream) -> Void) {
        let address = stream.remote
        let onRefused = self.onRefused
        MSEHandshake.answer(stream, loop: loop, infoHashes: infoHashes, policy: policy, timeout: timeout) { result in
            switch result {
            case .success(let ready): completion(ready)
            case .failure(let error): onRefused?(address, error)
            }
        }
    }
}
