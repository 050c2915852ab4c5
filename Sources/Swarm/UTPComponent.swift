import Net
import UTP

/// uTP beside the engine (BEP 29): a multiplexer on the engine's UDP port (shared with the DHT)
/// whose accepted connections become incoming peers, and the dialer the engine reaches peers with.
public final class UTPComponent: SwarmComponent {
    /// Which carriers the engine dials: `auto` is uTP with TCP after `fallbackAfter` seconds.
    public enum Mode: String, Sendable { case tcp, utp, auto }

    public let mode: Mode
    public let utpDialer = UTPDialer()
    public private(set) var multiplexer: UTPMultiplexer?
    private let fallbackAfter: Double
    private let tcp: TCPDialer

    /// `local`: the address we listen on (`--bind`); TCP connections are made from it too.
    public init(mode: Mode, local: SocketAddress? = nil, fallbackAfter: Double = 1) {
        self.mode = mode
        self.tcp = TCPDialer(local: local)
        self.fallbackAfter = fallbackAfter
    }

    /// Set as `SwarmConfiguration.dialer`.
    public var dialer: any PeerDialer {
        switch mode {
        case .tcp: return tcp
        case .utp: return utpDialer
        case .auto: return FallbackDialer(primary: utpDialer, fallback: tcp, fallbackAfter: fallbackAfter)
        }
    }

    public func start(_ engine: SwarmEngine) {
        guard mode != .tcp, let port = engine.datagramPort else { return }
        let multiplexer = UTPMultiplexer(port: port)
        multiplexer.onAccept = { [unowned engine] stream in engine.accept(stream, source: .incoming) }
        self.multiplexer = multiplexer
        utpDialer.multiplexer = multiplexer
    }

    public func stop() {
        multiplexer?.shutdown()
    }
}
