/// Why a uTP datagram or connection failed, naming the peer or field involved.
public enum UTPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A datagram that is not a uTP version-1 packet (too short, wrong version, unknown type).
    case malformed(String)
    /// The connect attempt got no answer in time.
    case connectTimeout(peer: String, seconds: Double)
    /// Sent data went unacknowledged through every retransmission.
    case retransmitTimeout(peer: String)
    /// The peer advertised a zero receive window for longer than we wait.
    case zeroWindow(peer: String, seconds: Double)
    /// The peer reset the connection (ST_RESET).
    case reset(peer: String)

    public var description: String {
        switch self {
        case .malformed(let what): return "malformed uTP packet: \(what)"
        case .connectTimeout(let peer, let seconds): return "\(peer): no uTP answer within \(seconds) s"
        case .retransmitTimeout(let peer): return "\(peer): uTP data unacknowledged after repeated retransmissions"
        case .zeroWindow(let peer, let seconds): return "\(peer): uTP receive window stayed zero for \(seconds) s"
        case .reset(let peer): return "\(peer): the peer reset the uTP connection"
        }
    }
}
