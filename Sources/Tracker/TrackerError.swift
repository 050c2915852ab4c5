/// Why a tracker request failed; every case names the tracker it was sent to.
public enum TrackerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The URL cannot be used (bad syntax, unknown scheme, no scrape URL).
    case badURL(String, String)
    /// Refused, unreachable, DNS failure.
    case unreachable(String, String)
    /// No usable answer before the deadline.
    case timeout(String, String)
    /// The tracker answered with a `failure reason` (HTTP) or an error action (UDP).
    case failure(String, String)
    /// The answer is not a tracker response: HTML page, garbage, truncated peers, wrong sizes.
    case badResponse(String, String)
    /// The body was larger than the cap.
    case tooLarge(String, Int)

    public var tracker: String {
        switch self {
        case .badURL(let url, _), .unreachable(let url, _), .timeout(let url, _),
             .failure(let url, _), .badResponse(let url, _), .tooLarge(let url, _):
            return url
        }
    }

    public var description: String {
        switch self {
        case .badURL(let url, let why): return "tracker \(url): \(why)"
        case .unreachable(let url, let why): return "tracker \(url) is unreachable: \(why)"
        case .timeout(let url, let why): return "tracker \(url) timed out: \(why)"
        case .failure(let url, let reason): return "tracker \(url) refused: \"\(reason)\""
        case .badResponse(let url, let why): return "tracker \(url) sent a bad response: \(why)"
        case .tooLarge(let url, let cap): return "tracker \(url) sent a response larger than \(cap) bytes"
        }
    }

    /// A short quote of a body for error messages: printable ASCII, whitespace collapsed.
    static func excerpt<C: Collection>(_ bytes: C, limit: Int = 60) -> String where C.Element == UInt8 {
        var out = ""
        var lastWasSpace = false
        for byte in bytes.prefix(limit * 2) {
            if out.count >= limit { break }
            if byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
                if !lastWasSpace && !out.isEmpty { out.append(" ") }
                lastWasSpace = true
            } else if byte >= 0x21 && byte < 0x7F {
                out.unicodeScalars.append(Unicode.Scalar(byte))
                lastWasSpace = false
            } else {
                out.append("?")
                lastWasSpace = false
            }
        }
        if bytes.count > out.utf8.count { out += "…" }
        return "'\(out)'"
    }
}
