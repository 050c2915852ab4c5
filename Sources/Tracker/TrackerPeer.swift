import FoundationEssentials
import Glibc

/// A peer address a tracker handed out (or that announced to our tracker).
public struct TrackerPeer: Hashable, Sendable {
    /// Dotted IPv4, IPv6 text, or (from dictionary peers) whatever host the tracker gave.
    public var ip: String
    public var port: UInt16
    /// From dictionary-model peers only.
    public var peerID: [UInt8]?

    public init(ip: String, port: UInt16, peerID: [UInt8]? = nil) {
        self.ip = ip
        self.port = port
        self.peerID = peerID
    }

    /// `127.0.0.1:6881` or `[::1]:6881`, exactly what `tt handshake` and `--peer` accept.
    public var addr: String { ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)" }
}

/// Compact peer lists: 6 bytes per IPv4 peer (BEP 23), 18 per IPv6 peer (BEP 7).
public enum CompactPeers {
    public enum Family: Sendable { case v4, v6
        public var entrySize: Int { self == .v4 ? 6 : 18 }
    }

    /// Decodes a compact list; nil when its length is not a whole number of entries (truncated).
    public static func decode<C: Collection>(_ bytes: C, family: Family) -> [TrackerPeer]? where C.Element == UInt8 {
        let bytes = Array(bytes)
        let size = family.entrySize
        guard bytes.count % size == 0 else { return nil }
        var peers: [TrackerPeer] = []
        peers.reserveCapacity(bytes.count / size)
        var offset = 0
        while offset < bytes.count {
            let ipBytes = bytes[offset..<(offset + size - 2)]
            let port = UInt16(bytes[offset + size - 2]) << 8 | UInt16(bytes[offset + size - 1])
            peers.append(TrackerPeer(ip: family == .v4 ? IPText.v4(ipBytes) : IPText.v6(ipBytes), port: port))
            offset += size
        }
        return peers
    }

    /// Encodes peers of one family; peers of the other family or with host names are skipped.
    public static func encode(_ peers: [TrackerPeer], family: Family) -> [UInt8] {
        var out: [UInt8] = []
        for peer in peers {
            guard let ip = family == .v4 ? IPText.parseV4(peer.ip) : IPText.parseV6(peer.ip) else { continue }
            out += ip
            out.append(UInt8(peer.port >> 8))
            out.append(UInt8(peer.port & 0xFF))
        }
        return out
    }
}

/// IP address text ⇄ bytes without touching the resolver (pure, for codecs and tests).
public enum IPText {
    public static func v4<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        bytes.map(String.init).joined(separator: ".")
    }

    /// RFC 5952 text: lowercase, longest run of zero groups (≥ 2) shortened to `::`, IPv4-mapped as `::ffff:a.b.c.d`.
    public static func v6<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        let b = Array(bytes)
        guard b.count == 16 else { return "?" }
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xFF && b[11] == 0xFF {
            return "::ffff:" + v4(b[12..<16])
        }
        let groups = (0..<8).map { Int(b[2 * $0]) << 8 | Int(b[2 * $0 + 1]) }
        var bestStart = -1, bestLength = 0, runStart = -1
        for index in 0...8 {
            if index < 8 && groups[index] == 0 {
                if runStart < 0 { runStart = index }
            } else if runStart >= 0 {
                if index - runStart > bestLength { bestStart = runStart; bestLength = index - runStart }
                runStart = -1
            }
        }
        if bestLength < 2 { return groups.map { String($0, radix: 16) }.joined(separator: ":") }
        let head = groups[..<bestStart].map { String($0, radix: 16) }.joined(separator: ":")
        let tail = groups[(bestStart + bestLength)...].map { String($0, radix: 16) }.joined(separator: ":")
        return head + "::" + tail
    }

    public static func parseV4(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII), let value = UInt8(part) else { return nil }
            out.append(value)
        }
        return out
    }

    public static func parseV6(_ text: String) -> [UInt8]? {
        var text = Substring(text)
        if text.hasPrefix("[") && text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        if let percent = text.firstIndex(of: "%") { text = text[..<percent] }  // zone id
        guard text.contains(":") else { return nil }
        var tailV4: [UInt8] = []
        if let lastColon = text.lastIndex(of: ":"), text[text.index(after: lastColon)...].contains(".") {
            guard let v4 = parseV4(String(text[text.index(after: lastColon)...])) else { return nil }
            tailV4 = v4
            text = text[...lastColon]
            if text.hasSuffix(":") && !text.hasSuffix("::") { text = text.dropLast() }
        }
        func groups(_ part: Substring) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            for group in part.split(separator: ":", omittingEmptySubsequences: false) {
                guard !group.isEmpty, group.count <= 4, let value = UInt16(group, radix: 16) else { return nil }
                out.append(value)
            }
            return out
        }
        let wanted = tailV4.isEmpty ? 8 : 6
        var all: [UInt16]
        if let range = text.firstRange(of: "::") {
            guard let head = groups(text[..<range.lowerBound]), let tail = groups(text[range.upperBound...]),
                  head.count + tail.count < wanted else { return nil }
            all = head + Array(repeating: 0, count: wanted - head.count - tail.count) + tail
        } else {
            guard let only = groups(text), only.count == wanted else { return nil }
            all = only
        }
        var out: [UInt8] = []
        for group in all { out.append(UInt8(group >> 8)); out.append(UInt8(group & 0xFF)) }
        return out + tailV4
    }
}
