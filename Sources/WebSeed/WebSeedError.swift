/// Why a web seed could not give a piece; every case names the URL involved.
public enum WebSeedError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The URL cannot be used (not http or https, bad syntax), or the torrent cannot be served this way.
    case badURL(String, String)
    case unsupported(String)
    /// Refused, unreachable, DNS failure.
    case unreachable(String, String)
    case timeout(String, String)
    /// An HTTP status other than 206 (or 200 with the whole file), e.g. 404.
    case status(String, Int, String)
    /// An answer that is not the range asked for: Range ignored on a large file, wrong Content-Range, short body.
    case badResponse(String, String)

    public var url: String {
        switch self {
        case .badURL(let url, _), .unreachable(let url, _), .timeout(let url, _), .status(let url, _, _), .badResponse(let url, _):
            return url
        case .unsupported: return ""
        }
    }

    public var description: String {
        switch self {
        case .badURL(let url, let why): return "web seed \(url): \(why)"
        case .unsupported(let why): return why
        case .unreachable(let url, let why): return "web seed \(url) is unreachable: \(why)"
        case .timeout(let url, let why): return "web seed \(url) timed out: \(why)"
        case .status(let url, let code, let reason): return "web seed \(url) answered HTTP \(code) \(reason)"
        case .badResponse(let url, let why): return "web seed \(url) sent a bad response: \(why)"
        }
    }
}
