import Bencode

/// A magnet link (BEP 9): info hash(es), display name, trackers, peers.
public struct MagnetLink: Hashable, Sendable {
    public var infoHashes: InfoHashes
    public var displayName: String?
    public var trackers: [String]
    /// `x.pe` peer addresses (BEP 9), as `host:port`.
    public var peers: [String]

    public init(infoHashes: InfoHashes, displayName: String? = nil, trackers: [String] = [], peers: [String] = []) {
        self.infoHashes = infoHashes
        self.displayName = displayName
        self.trackers = trackers
        self.peers = peers
    }

    public init(torrent: Torrent) {
        self.init(infoHashes: torrent.infoHashes, displayName: torrent.name, trackers: torrent.trackers)
    }

    /// Parses `magnet:?xt=urn:btih:…&xt=urn:btmh:1220…&dn=…&tr=…`.
    public init(parsing link: String) throws(MetainfoError) {
        guard link.hasPrefix("magnet:?") else { throw .badMagnet("it does not start with 'magnet:?'") }
        var v1: [UInt8]? = nil
        var v2: [UInt8]? = nil
        var name: String? = nil
        var trackers: [String] = []
        var peers: [String] = []
        for pair in link.dropFirst("magnet:?".count).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            guard let value = MagnetLink.percentDecode(String(parts[1])) else {
                throw .badMagnet("bad percent-encoding in '\(parts[0])'")
            }
            switch parts[0] {
            case "xt":
                if value.hasPrefix("urn:btih:") {
                    let hash = String(value.dropFirst("urn:btih:".count))
                    if hash.count == 40, let bytes = Hex.decode(hash) {
                        v1 = bytes
                    } else if hash.count == 32, let bytes = Base32.decode(hash) {
                        v1 = bytes
                    } else {
                        throw .badMagnet("'urn:btih:' needs 40 hex or 32 base32 characters, got \(hash.count)")
                    }
                } else if value.hasPrefix("urn:btmh:") {
                    // Multihash: 0x12 (sha2-256), 0x20 (32 bytes), digest.
                    let hex = String(value.dropFirst("urn:btmh:".count))
                    guard let bytes = Hex.decode(hex), bytes.count == 34, bytes[0] == 0x12, bytes[1] == 0x20 else {
                        throw .badMagnet("'urn:btmh:' needs a sha2-256 multihash (1220 + 64 hex)")
                    }
                    v2 = Array(bytes[2...])
                }
            case "dn": name = value
            case "tr": trackers.append(value)
            case "x.pe": peers.append(value)
            default: break
            }
        }
        guard v1 != nil || v2 != nil else { throw .badMagnet("no 'xt=urn:btih:' or 'xt=urn:btmh:' info hash") }
        self.init(infoHashes: InfoHashes(v1: v1, v2: v2), displayName: name, trackers: trackers, peers: peers)
    }

    public var link: String {
        var parts: [String] = []
        if let v1 = infoHashes.v1 { parts.append("xt=urn:btih:" + Hex.encode(v1)) }
        if let v2 = infoHashes.v2 { parts.append("xt=urn:btmh:1220" + Hex.encode(v2)) }
        if let displayName { parts.append("dn=" + MagnetLink.percentEncode(displayName)) }
        for tracker in trackers { parts.append("tr=" + MagnetLink.percentEncode(tracker)) }
        for peer in peers { parts.append("x.pe=" + MagnetLink.percentEncode(peer)) }
        return "magnet:?" + parts.joined(separator: "&")
    }

    static func percentEncode(_ text: String) -> String { PercentEncoding.encode(Array(text.utf8)) }

    public static func percentDecode(_ text: String) -> String? {
        PercentEncoding.decode(Array(text.utf8)).flatMap { String(validatingUTF8Bytes: $0) }
    }
}

/// RFC 4648 base32, which older magnet links use for v1 info hashes.
enum Base32 {
    static func decode(_ text: String) -> [UInt8]? {
        var buffer: UInt64 = 0
        var bits = 0
        var out: [UInt8] = []
        for char in text.uppercased().utf8 {
            let value: UInt8
            switch char {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = char - UInt8(ascii: "A")
            case UInt8(ascii: "2")...UInt8(ascii: "7"): value = char - UInt8(ascii: "2") + 26
            default: return nil
            }
            buffer = buffer << 5 | UInt64(value)
            bits += 5
            if bits >= 8 {
                out.append(UInt8((buffer >> UInt64(bits - 8)) & 0xFF))
                bits -= 8
            }
        }
        return out
    }
}
