import Net

/// Whether a peer answers uTP on its port: one SYN, and the round trip to its SYN-ACK (then a RESET).
/// For probes such as `tt handshake HOST:PORT` without a torrent.
public enum UTPProbe {
    /// The round-trip time in seconds, or why there was no answer (timeout: nothing speaks uTP there).
    public static func probe(_ address: SocketAddress, timeout: Double, from local: SocketAddress? = nil) -> Result<Double, NetError> {
        let loop = EventLoop()
        let dialer = UTPDialer(local: local)
        var result: Result<Double, NetError>?
        let start = loop.now
        dialer.dial(address, loop: loop, timeout: timeout) { outcome in
            switch outcome {
            case .success(let stream):
                result = .success(loop.now - start)
                stream.close()
            case .failure(let error):
                result = .failure(error)
            }
        }
        let deadline = Deadline.after(timeout + 1)
        while result == nil && !deadline.hasPassed { loop.runOnce(timeout: min(0.05, deadline.remaining)) }
        loop.runOnce(timeout: 0)  // let the RESET leave
        dialer.multiplexer?.shutdown()
        dialer.multiplexer?.port.close()
        return result ?? .failure(.timeout(what: "waiting for a uTP answer from \(address)"))
    }
}
