/// Where the engine learned of a peer, as peer events name it (`"source"`).
public enum PeerSource: String, Sendable, CaseIterable {
    case tracker
    case peerOption = "peer_option"
    case incoming
    case magnet
    case dht
    case pex
    case webseed
}
