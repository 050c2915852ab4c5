import Net
import PeerWire

/// Why a swarm run, a single-peer exchange (`PeerLink`) or a metadata fetch failed. The command
/// layer maps each case to its exit code (README "Exit codes").
public enum SwarmError: Error, Sendable, CustomStringConvertible {
    /// The torrent cannot be written safely or laid out (exit 65).
    case badTorrent(String)
    /// No peer could be reached and none is left to try (exit 69).
    case noPeers(String)
    /// Disk trouble (exit 74).
    case storage(String)
    /// Serve-only, and no piece of the data matches the torrent (exit 1).
    case nothingToServe(String)
    /// Dialling a peer failed (refused, unreachable, timed out).
    case connect(NetError)
    /// A peer broke the protocol.
    case peerProtocol(peer: String, PeerWireError)
    /// A peer ended the connection (`error` nil: an orderly close).
    case peerClosed(peer: String, beforeHandshake: Bool, waitingFor: String, error: NetError?)
    /// A peer was silent until the deadline.
    case peerTimeout(peer: String, waitingFor: String)
    /// A peer could not give the metadata (BEP 9): why.
    case metadata(peer: String, String)
    /// No peer gave the metadata: each one's failure.
    case noMetadata([String])

    public var description: String {
        switch self {
        case .badTorrent(let why), .noPeers(let why), .storage(let why), .nothingToServe(let why): return why
        case .connect(let error): return error.description
        case .peerProtocol(let peer, let error): return error.named(peer)
        case .peerClosed(let peer, let beforeHandshake, let what, _):
            if beforeHandshake {
                return "peer \(peer) closed the connection before its handshake (it may not have this torrent, or refuses us)"
            }
            return "peer \(peer) closed the connection while we were waiting for \(what)"
        case .peerTimeout(let peer, let what): return "peer \(peer): no answer while waiting for \(what)"
        case .metadata(let peer, let why): return "\(peer): \(why)"
        case .noMetadata(let failures):
            return failures.isEmpty ? "no peer to ask for the metadata" : "no peer gave the metadata: " + failures.prefix(3).joined(separator: "; ")
        }
    }
}
