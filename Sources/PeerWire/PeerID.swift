import Metainfo

/// A 20-byte peer id, with the client it names (Azureus style `-LT2080-…`, Shadow style
/// `S58B-----…`, Mainline `M4-3-6--…`, and aria2's `A2-1-36-0-…`).
public struct PeerID: Hashable, Sendable {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 20)
        self.bytes = bytes
    }

    /// Our own: `-TT0100-` and 12 random bytes (tt-handshake(1)).
    public static func ours() -> PeerID { PeerID(bytes: ClientIdentity.newPeerID()) }

    public var hex: String { PeerWire.hex(bytes) }

    /// The id as text when every byte is printable ASCII, else nil.
    public var text: String? {
        guard bytes.allSatisfy({ (0x20..<0x7F).contains($0) }) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The id as text with unprintable bytes shown as `.` (for display).
    public var printable: String {
        String(bytes.map { (0x20..<0x7F).contains($0) ? Character(UnicodeScalar($0)) : "." })
    }

    /// The client and version the id names, e.g. "libtorrent 2.0.8", or nil when unknown.
    public var client: String? { ClientNames.name(bytes) }
}

/// Peer id conventions of the clients seen in the wild.
enum ClientNames {
    /// Azureus-style two-letter codes (`-XXvvvv-`).
    static let azureus: [String: String] = [
        "AG": "Ares", "AR": "Arctic", "AX": "BitPump", "AZ": "Vuze", "BB": "BitBuddy", "BC": "BitComet",
        "BF": "Bitflu", "BI": "BiglyBT", "BT": "BitTorrent", "BW": "BitWombat", "CD": "Enhanced CTorrent",
        "DE": "Deluge", "FD": "Free Download Manager", "FL": "Folx", "FW": "FrostWire", "HL": "Halite",
        "KG": "KGet", "KT": "KTorrent", "LH": "LH-ABC", "LT": "libtorrent", "lt": "libTorrent (rakshasa)",
        "LW": "LimeWire", "MG": "MediaGet", "MO": "MonoTorrent", "PI": "PicoTorrent", "qB": "qBittorrent",
        "RT": "Retriever", "SD": "Thunder", "st": "SharkTorrent", "SZ": "Shareaza", "TB": "Torch",
        "TL": "Tribler", "TR": "Transmission", "TT": "tt", "TS": "TorrentStorm", "TX": "Tixati",
        "UM": "µTorrent for Mac", "UT": "µTorrent", "UW": "µTorrent Web", "VG": "Vagaa", "WD": "WebTorrent Desktop",
        "WW": "WebTorrent", "XL": "Xunlei", "XX": "Xtorrent", "ZT": "ZipTorrent", "BN": "Baidu Netdisk",
        "RZ": "RezTorrent", "LP": "Lphant", "SB": "Swiftbit", "SP": "BitSpirit", "HN": "Hydranode",
        "A2": "aria2", "7T": "aTorrent", "AT": "Artemis", "FX": "Freebox BitTorrent", "GR": "GetRight",
        "IL": "iLivid", "LC": "LeechCraft", "MR": "Miro", "NX": "Net Transport", "OS": "OneSwarm",
        "PD": "Pando", "QD": "QQDownload", "RS": "Rufus", "SM": "SoMud", "TN": "TorrentDotNET",
        "XF": "Xfplay", "ZO": "Zona", "FG": "FlashGet", "TE": "terasaur Seed Bank", "bF": "BitFlu",
    ]

    /// Shadow-style first letters.
    static let shadow: [UInt8: String] = [
        UInt8(ascii: "A"): "ABC", UInt8(ascii: "O"): "Osprey Permaseed", UInt8(ascii: "Q"): "BTQueue",
        UInt8(ascii: "R"): "Tribler", UInt8(ascii: "S"): "Shadow", UInt8(ascii: "T"): "BitTornado",
        UInt8(ascii: "U"): "UPnP NAT Bit Torrent",
    ]

    static func name(_ id: [UInt8]) -> String? {
        if let aria = aria2(id) { return aria }
        if let azureus = azureusStyle(id) { return azureus }
        if let mainline = mainlineStyle(id) { return mainline }
        if let shadow = shadowStyle(id) { return shadow }
        return nil
    }

    static func isDigit(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) }
    static func isAlnum(_ byte: UInt8) -> Bool {
        isDigit(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
    }

    /// aria2: `A2-1-36-0-` (major-minor-patch, dash separated).
    static func aria2(_ id: [UInt8]) -> String? {
        guard id.count >= 3, id[0] == UInt8(ascii: "A"), id[1] == UInt8(ascii: "2"), id[2] == UInt8(ascii: "-") else { return nil }
        let text = String(decoding: id[3...].prefix { $0 != 0 && (isDigit($0) || $0 == UInt8(ascii: "-")) }, as: UTF8.self)
        let parts = text.split(separator: "-", omittingEmptySubsequences: true).prefix(3)
        guard parts.count == 3 else { return "aria2" }
        return "aria2 " + parts.joined(separator: ".")
    }

    /// A version character in Azureus ids: digits, and letters for ≥ 10 (libtorrent uses 'A' for 10).
    static func versionValue(_ byte: UInt8) -> Int? {
        if isDigit(byte) { return Int(byte - 0x30) }
        if (0x41...0x5A).contains(byte) { return Int(byte - 0x41) + 10 }
        if (0x61...0x7A).contains(byte) { return Int(byte - 0x61) + 10 }
        return nil
    }

    static func azureusStyle(_ id: [UInt8]) -> String? {
        guard id[0] == UInt8(ascii: "-"), id[7] == UInt8(ascii: "-"), isAlnum(id[1]), isAlnum(id[2]) else { return nil }
        let code = String(decoding: id[1...2], as: UTF8.self)
        let digits = Array(id[3...6])
        let name = azureus[code] ?? "unknown client \(code)"
        let values = digits.map(versionValue)
        switch code {
        case "TR":
            // Transmission: "-TR3000-" is 3.00; from 4.0 on "-TR4050-" is 4.0.5; a trailing Z or X marks a dev build.
            guard let major = values[0], let a = values[1], let b = values[2] else { return name }
            let dev = digits[3] == UInt8(ascii: "Z") || digits[3] == UInt8(ascii: "X") ? " (dev)" : ""
            if major >= 4 { return "\(name) \(major).\(a).\(b)\(dev)" }
            return "\(name) \(major).\(a)\(b)\(dev)"
        case "UT", "UM", "UW":
            // µTorrent: "-UT355S-" is 3.5.5 (the last character is a build tag).
            guard let a = values[0], let b = values[1], let c = values[2] else { return name }
            return "\(name) \(a).\(b).\(c)"
        case "lt":
            // rakshasa's libTorrent writes hex digit pairs: "-lt0D60-" is 0.13.6.
            guard let a = values[0], let b = values[1], let c = values[2] else { return name }
            return "\(name) \(a).\(b).\(c)"
        default:
            guard values.allSatisfy({ $0 != nil }) else {
                return "\(name) \(String(decoding: digits, as: UTF8.self))"
            }
            let numbers = values.map { $0! }
            var parts = numbers.prefix(3).map(String.init)
            if numbers[3] != 0 { parts.append(String(numbers[3])) }
            return "\(name) \(parts.joined(separator: "."))"
        }
    }

    /// Mainline: `M4-3-6--` or `M4-20-8-`.
    static func mainlineStyle(_ id: [UInt8]) -> String? {
        guard id[0] == UInt8(ascii: "M") || id[0] == UInt8(ascii: "Q") else { return nil }
        let head = Array(id[1..<8])
        let text = String(decoding: head, as: UTF8.self)
        let parts = text.split(separator: "-", omittingEmptySubsequences: true)
        guard parts.count == 3, parts.allSatisfy({ $0.allSatisfy(\.isNumber) }), text.hasSuffix("-"),
              head.allSatisfy({ isDigit($0) || $0 == UInt8(ascii: "-") }) else { return nil }
        let name = id[0] == UInt8(ascii: "M") ? "BitTorrent" : "Queen Bee"
        return "\(name) " + parts.joined(separator: ".")
    }

    /// Shadow: a client letter, up to five version characters, padded with '-' (`S58B-----`).
    static func shadowStyle(_ id: [UInt8]) -> String? {
        guard let name = shadow[id[0]] else { return nil }
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.-".utf8)
        var numbers: [Int] = []
        var index = 1
        while index < 6, id[index] != UInt8(ascii: "-") {
            guard let value = alphabet.firstIndex(of: id[index]) else { return nil }
            numbers.append(value)
            index += 1
        }
        // The version must be followed by dash padding up to byte 8.
        guard !numbers.isEmpty, id[index..<min(9, id.count)].allSatisfy({ $0 == UInt8(ascii: "-") }) else { return nil }
        return "\(name) " + numbers.map(String.init).joined(separator: ".")
    }
}
