import Net

/// Dials a peer under an `EncryptionPolicy` over any carrier (`connect` makes the TCP or uTP
/// stream): `off` plain, `require` MSE offering RC4 only, `prefer` MSE offering both and, when
/// the peer hangs up on it, a second plain connection.
///
/// Encrypted first because peers that require encryption drop a plaintext handshake, while
/// plaintext-only peers hang up on the MSE key at once (both on the first round trip); this is
/// also the order libtorrent, aria2 and qBittorrent use.
public enum EncryptedDialer {
    public typealias Connect = (SocketAddress, @escaping (Result<ByteStream, NetError>) -> Void) -> Void

    public static func dial(_ address: SocketAddress, loop: EventLoop, infoHash: [UInt8], policy: EncryptionPolicy,
                            timeout: Double, connect: @escaping Connect, onStep: @escaping (MSEStep) -> Void = { _ in },
                            completion: @escaping (Result<ByteStream, MSEConnectionError>) -> Void) {
        connect(address) { result in
            let stream: ByteStream
            switch result {
            case .failure(let error): completion(.failure(.net(error))); return
            case .success(let connected): stream = connected
            }
            guard let provide = policy.provide else { completion(.success(stream)); return }
            MSEHandshake.initiate(stream, loop: loop, infoHash: infoHash, provide: provide, timeout: timeout, onStep: onStep) { outcome in
                switch outcome {
                case .success(let encrypted):
                    completion(.success(encrypted))
                case .failure(let error) where policy == .prefer && error.peerRefused:
                    onStep(MSEStep("mse_fallback", [("reason", .string(error.description))]))
                    connect(address) { retry in completion(retry.mapError { .net($0) }) }
                case .failure(let error):
                    completion(.failure(error))
                }
            }
        }
    }

    /// `connect` for plain TCP.
    public static func tcp(loop: EventLoop, timeout: Double) -> Connect {
        { address, done in
            StreamChannel.connect(loop: loop, to: address, timeout: timeout) { result in
                done(result.map { $0 as ByteStream })
            }
        }
    }
}
