import Bencode

/// Why bytes are not a usable torrent (exit 65) or a magnet link is malformed.
public enum MetainfoError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The bytes are not bencode at all.
    case bencode(BencodeError)
    /// Bencode, but not a torrent: a required key is missing or has the wrong type.
    case invalid(String)
    /// A torrent that breaks one of the rules of `MetainfoRule` (tt-info(1) lists them).
    case rejected(MetainfoProblem)
    /// A magnet link that cannot be used.
    case badMagnet(String)

    public var description: String {
        switch self {
        case .bencode(let error): return "not a torrent: bencode error at \(error)"
        case .invalid(let why): return "invalid torrent: \(why)"
        case .rejected(let problem): return "invalid torrent: \(problem.message)"
        case .badMagnet(let why): return "bad magnet link: \(why)"
        }
    }
}
