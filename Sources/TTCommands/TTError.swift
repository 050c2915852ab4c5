import FoundationEssentials
import Glibc
import Net
import PeerWire
import Swarm

/// The exit codes of the README table and tt(1) (sysexits).
public enum ExitCode: Int32, Sendable {
    case success = 0
    case checkFailed = 1
    case usage = 64
    case dataError = 65
    case noInput = 66
    case unavailable = 69
    case ioError = 74
    case timeout = 75
    case protocolError = 76
    case interrupted = 130
}

/// An error as the user sees it: one line on stderr, a kind for `--json`, an exit code.
public struct TTError: Error, Sendable, CustomStringConvertible {
    public var code: ExitCode
    /// A short machine-readable kind, e.g. `usage`, `bad_torrent`, `tracker_failure`.
    public var kind: String
    public var message: String
    /// Extra fields for the `--json` error object.
    public var details: [(String, String)]

    public init(_ code: ExitCode, kind: String, _ message: String, details: [(String, String)] = []) {
        self.code = code
        self.kind = kind
        self.message = message
        self.details = details
    }

    public var description: String { message }

    public static func usage(_ message: String) -> TTError { TTError(.usage, kind: "usage", message) }
}

// MARK: - The one mapping from module errors to exit codes (README "Exit codes")

extension TTError {
    /// A network failure: the remote unavailable (refused, unreachable, DNS) 69, a timeout 75, a
    /// peer hanging up 76, a bad address 64, any other system error 74.
    init(net error: NetError) {
        switch error {
        case .refused: self.init(.unavailable, kind: "refused", error.description)
        case .unreachable: self.init(.unavailable, kind: "unreachable", error.description)
        case .dns: self.init(.unavailable, kind: "dns", error.description)
        case .timeout: self.init(.timeout, kind: "timeout", error.description)
        case .closed: self.init(.protocolError, kind: "closed", error.description)
        case .badAddress: self.init(.usage, kind: "usage", error.description)
        case .system: self.init(.ioError, kind: "io_error", error.description)
        }
    }

    /// A protocol failure (exit 76), naming the peer.
    init(peerWire error: PeerWireError, peer: String) {
        let kind: String
        switch error {
        case .wrongInfoHash: kind = "wrong_info_hash"
        case .messageTooLong: kind = "message_too_long"
        case .unrequestedBlock: kind = "unrequested_block"
        case .badBitfield: kind = "bad_bitfield"
        default: kind = "protocol_error"
        }
        self.init(.protocolError, kind: kind, error.named(peer), details: [("peer", peer)])
    }

    /// A swarm, single-peer or metadata failure.
    init(swarm error: SwarmError) {
        switch error {
        case .badTorrent(let why): self.init(.dataError, kind: "bad_torrent", why)
        case .noPeers(let why): self.init(.unavailable, kind: "no_peers", why)
        case .storage(let why): self.init(.ioError, kind: "io_error", why)
        case .nothingToServe(let why): self.init(.checkFailed, kind: "no_valid_pieces", why)
        case .connect(let net): self.init(net: net)
        case .peerProtocol(let peer, let wire): self.init(peerWire: wire, peer: peer)
        case .peerClosed(let peer, _, _, _):
            self.init(.protocolError, kind: "closed", error.description, details: [("peer", peer)])
        case .peerTimeout(let peer, _): self.init(.timeout, kind: "timeout", error.description, details: [("peer", peer)])
        case .metadata, .noMetadata: self.init(.unavailable, kind: "no_metadata", error.description)
        }
    }
}
