import Net

/// One blocking KRPC `ping` over a plain UDP socket (no event loop), for probes such as
/// `tt handshake HOST:PORT` asking whether a DHT node answers on a peer's port. Sent with `ro=1`.
public enum DHTProbe {
    public struct Pong: Sendable {
        public var id: NodeID
        /// The `v` field, e.g. `LT\x02\x08` (see `ClientVersion.describe`).
        public var version: [UInt8]?
        /// Our address as the node sees it (`ip`), when it says.
        public var observedAddress: SocketAddress?
        /// Round trip in seconds.
        public var rtt: Double
    }

    public enum Failure: Error, Sendable, CustomStringConvertible {
        case timeout
        case error(code: Int, message: String)
        case blocked(String)
        case network(NetError)

        public var description: String {
            switch self {
            case .timeout: return "no DHT reply"
            case .error(let code, let message): return "DHT error \(code): \(message)"
            case .blocked(let why): return why
            case .network(let error): return "\(error)"
            }
        }
    }

    public static func ping(_ address: SocketAddress, timeout: Double, from local: SocketAddress? = nil) -> Result<Pong, Failure> {
        guard AddressGuard.allows(address) else {
            return .failure(.blocked("\(address) is not a loopback address (\(AddressGuard.environmentVariable))"))
        }
        let t: [UInt8] = [UInt8.random(in: 0...255), UInt8.random(in: 0...255)]
        let query = KRPCMessage(transactionID: t, body: .query(.ping(id: .random())), version: NodeState.version, readOnly: true)
        let deadline = Deadline.after(timeout)
        do {
            let socket = try UDPSocket(family: address.family, bind: local)
            defer { socket.close() }
            let sent = monotonicSeconds()
            try socket.send(KRPCCodec.encode(query), to: address)
            while true {
                let (bytes, from) = try socket.receive(deadline: deadline)
                guard from == address, let reply = try? KRPCCodec.decode(bytes), reply.transactionID == t else { continue }
                switch reply.body {
                case .response(let response):
                    return .success(Pong(id: response.id, version: reply.version, observedAddress: reply.observedAddress,
                                         rtt: monotonicSeconds() - sent))
                case .error(let code, let message):
                    return .failure(.error(code: code, message: message))
                case .query:
                    continue
                }
            }
        } catch {
            if case .timeout = error { return .failure(.timeout) }
            return .failure(.network(error))
        }
    }
}
