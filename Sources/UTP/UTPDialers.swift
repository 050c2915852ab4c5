import Net

/// uTP as a `PeerDialer`: through a given multiplexer (the engine's shared UDP port), or through a
/// port of its own opened on the dial's loop (one-shot commands), bound to `local` when given.
public final class UTPDialer: PeerDialer {
    public var multiplexer: UTPMultiplexer?
    let local: SocketAddress?
    let trace: ((UTPMultiplexer.TraceRecord) -> Void)?

    public init(multiplexer: UTPMultiplexer? = nil, local: SocketAddress? = nil,
                trace: ((UTPMultiplexer.TraceRecord) -> Void)? = nil) {
        self.multiplexer = multiplexer
        self.local = local
        self.trace = trace
    }

    public func dial(_ address: SocketAddress, loop: EventLoop, timeout: Double,
                     completion: @escaping (Result<any ByteStream, NetError>) -> Void) {
        let chosen: UTPMultiplexer
        if let multiplexer, multiplexer.loop === loop, multiplexer.port.family == address.family {
            chosen = multiplexer
        } else {
            let bind = local.flatMap { SocketAddress(ipBytes: $0.ipBytes, port: 0) }.flatMap { $0.family == address.family ? $0 : nil }
            do throws(NetError) {
                chosen = UTPMultiplexer(port: try DatagramPort(loop: loop, bind: bind ?? .any(address.family)))
            } catch {
                loop.schedule(after: 0) { completion(.failure(error)) }
                return
            }
            chosen.onTrace = trace
            if multiplexer == nil { multiplexer = chosen }
        }
        chosen.dial(address, timeout: timeout) { completion($0.map { $0 as any ByteStream }) }
    }
}

/// The engine's `auto`: uTP first; TCP too when uTP has not connected within `fallbackAfter` seconds
/// (a peer without uTP never answers the SYN) or failed. The first connection wins; a later one is closed.
public struct FallbackDialer: PeerDialer {
    public let primary: any PeerDialer
    public let fallback: any PeerDialer
    public let fallbackAfter: Double

    public init(primary: any PeerDialer, fallback: any PeerDialer, fallbackAfter: Double = 1) {
        self.primary = primary
        self.fallback = fallback
        self.fallbackAfter = fallbackAfter
    }

    public func dial(_ address: SocketAddress, loop: EventLoop, timeout: Double,
                     completion: @escaping (Result<any ByteStream, NetError>) -> Void) {
        let state = FallbackState()
        let fallback = self.fallback
        func finished(_ result: Result<any ByteStream, NetError>, fromFallback: Bool) {
            state.pending -= 1
            switch result {
            case .success(let stream):
                if state.done { stream.close(); return }
                state.done = true
                if let timer = state.timer { loop.cancel(timer) }
                completion(result)
            case .failure(let error):
                // The fallback's (TCP's) reason is the one to report ("connection refused" says more
                // than uTP's port unreachable or timeout); it comes last when both fail.
                if fromFallback || state.error == nil { state.error = error }
                if !state.done && !state.fallbackStarted { startFallback() }
                else if !state.done && state.pending == 0 { state.done = true; completion(.failure(state.error ?? error)) }
            }
        }
        func startFallback() {
            guard !state.fallbackStarted, !state.done else { return }
            state.fallbackStarted = true
            state.pending += 1
            fallback.dial(address, loop: loop, timeout: timeout) { finished($0, fromFallback: true) }
        }
        state.pending = 1
        state.timer = loop.schedule(after: fallbackAfter) { startFallback() }
        primary.dial(address, loop: loop, timeout: timeout) { finished($0, fromFallback: false) }
    }

    final class FallbackState {
        var pending = 0
        var done = false
        var fallbackStarted = false
        var error: NetError?
        var timer: EventLoop.TimerID?
    }
}

/// `--transport auto` for one-shot commands: dials every carrier at once and returns a stream that
/// writes to each until one of them delivers data (the peer's handshake); that one is kept.
public struct RacingDialer: PeerDialer {
    public let dialers: [any PeerDialer]

    public init(_ dialers: [any PeerDialer]) { self.dialers = dialers }

    public func dial(_ address: SocketAddress, loop: EventLoop, timeout: Double,
                     completion: @escaping (Result<any ByteStream, NetError>) -> Void) {
        let race = RacingStream(remote: address, pendingDials: dialers.count)
        var delivered = false
        for dialer in dialers {
            dialer.dial(address, loop: loop, timeout: timeout) { result in
                race.dialFinished(result)
                guard !delivered else { return }
                if case .success = result {
                    delivered = true
                    completion(.success(race))
                } else if race.pendingDials == 0 {
                    delivered = true
                    completion(.failure(race.lastError ?? .timeout(what: "connecting to \(address)")))
                }
            }
        }
    }
}
