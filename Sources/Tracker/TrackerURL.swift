import FoundationEssentials
import Glibc

/// A tracker URL split into what the transports need, without Foundation's URL quirks
/// (we keep the path and query bytes exactly as given).
public struct TrackerURL: Sendable, Equatable, CustomStringConvertible {
    public enum Scheme: String, Sendable { case http, https, udp }

    public var scheme: Scheme
    /// Host name or IP text (IPv6 without brackets).
    public var host: String
    public var port: UInt16
    /// Path including any query, starting with `/` (empty path becomes `/`).
    public var target: String
    /// The URL as the user or torrent gave it.
    public var original: String

    public init(_ text: String) throws(TrackerError) {
        original = text
        guard let schemeEnd = text.firstRange(of: "://") else { throw .badURL(text, "not a URL (no '://')") }
        guard let scheme = Scheme(rawValue: text[..<schemeEnd.lowerBound].lowercased()) else {
            throw .badURL(text, "unsupported scheme '\(text[..<schemeEnd.lowerBound])' (http, https and udp work)")
        }
        self.scheme = scheme
        let rest = text[schemeEnd.upperBound...]
        let stops: Set<Character> = ["/", "?", "#"]
        let authorityEnd = rest.firstIndex(where: { stops.contains($0) }) ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        var target = String(rest[authorityEnd...])
        if let hash = target.firstIndex(of: "#") { target = String(target[..<hash]) }
        if target.isEmpty || target.hasPrefix("?") { target = "/" + target }
        self.target = target
        let defaultPort: UInt16 = scheme == .https ? 443 : 80
        var hostPart: Substring
        var portPart: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw .badURL(text, "unclosed '[' in the host") }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { portPart = after.dropFirst() } else if !after.isEmpty {
                throw .badURL(text, "unexpected '\(after)' after the host")
            }
        } else if let colon = authority.lastIndex(of: ":") {
            hostPart = authority[..<colon]
            portPart = authority[authority.index(after: colon)...]
        } else {
            hostPart = authority
        }
        guard !hostPart.isEmpty else { throw .badURL(text, "no host") }
        host = String(hostPart)
        if let portPart {
            guard let port = UInt16(portPart), port > 0 else { throw .badURL(text, "bad port '\(portPart)'") }
            self.port = port
        } else {
            guard scheme != .udp else { throw .badURL(text, "a udp:// tracker URL needs a port") }
            port = defaultPort
        }
    }

    public var description: String { original }

    /// `host:port` for the Host header (brackets for IPv6, default port left out).
    var hostHeader: String {
        let bracketed = host.contains(":") ? "[\(host)]" : host
        let defaultPort: UInt16 = scheme == .https ? 443 : 80
        return port == defaultPort ? bracketed : "\(bracketed):\(port)"
    }

    /// BEP 48's rule: the last path component must start with `announce`, which becomes `scrape`.
    /// UDP trackers scrape at the same address. nil when the tracker has no scrape URL.
    public var scrapeURL: TrackerURL? {
        if scheme == .udp { return self }
        let queryStart = target.firstIndex(of: "?") ?? target.endIndex
        let path = target[..<queryStart]
        guard let slash = path.lastIndex(of: "/") else { return nil }
        let last = path[path.index(after: slash)...]
        guard last.hasPrefix("announce") else { return nil }
        var copy = self
        copy.target = String(path[...slash]) + "scrape" + last.dropFirst("announce".count) + target[queryStart...]
        let prefixEnd = original.firstRange(of: String(target))?.lowerBound ?? original.endIndex
        copy.original = String(original[..<prefixEnd]) + copy.target
        return copy
    }

    /// Resolves a redirect `Location` against this URL.
    func resolving(_ location: String) throws(TrackerError) -> TrackerURL {
        if location.contains("://") { return try TrackerURL(location) }
        var copy = self
        if location.hasPrefix("/") {
            copy.target = location
        } else {
            let queryStart = target.firstIndex(of: "?") ?? target.endIndex
            let base = target[..<queryStart]
            copy.target = String(base[...(base.lastIndex(of: "/") ?? base.startIndex)]) + location
        }
        copy.original = "\(scheme.rawValue)://\(hostHeader)\(copy.target)"
        return copy
    }
}
