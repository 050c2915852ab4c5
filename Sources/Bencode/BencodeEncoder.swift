/// Canonical bencode: dictionary keys sorted as raw bytes, integers without leading zeros.
extension BencodeValue {
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        encode(into: &out)
        return out
    }

    public func encode(into out: inout [UInt8]) {
        switch self {
        case .integer(let value):
            out.append(UInt8(ascii: "i"))
            out.append(contentsOf: String(value).utf8)
            out.append(UInt8(ascii: "e"))
        case .rawInteger(let digits):
            // Written back as it was read, so decode → encode round-trips exactly.
            out.append(UInt8(ascii: "i"))
            out.append(contentsOf: digits.utf8)
            out.append(UInt8(ascii: "e"))
        case .string(let bytes):
            out.append(contentsOf: String(bytes.count).utf8)
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: bytes)
        case .list(let items):
            out.append(UInt8(ascii: "l"))
            for item in items { item.encode(into: &out) }
            out.append(UInt8(ascii: "e"))
        case .dictionary(let entries):
            out.append(UInt8(ascii: "d"))
            for entry in entries.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
                out.append(contentsOf: String(entry.key.count).utf8)
                out.append(UInt8(ascii: ":"))
                out.append(contentsOf: entry.key)
                entry.value.encode(into: &out)
            }
            out.append(UInt8(ascii: "e"))
        }
    }

    /// Encodes dictionaries in their stored order (for reproducing non-canonical input exactly).
    public func encodedPreservingOrder() -> [UInt8] {
        var out: [UInt8] = []
        encodePreservingOrder(into: &out)
        return out
    }

    func encodePreservingOrder(into out: inout [UInt8]) {
        switch self {
        case .list(let items):
            out.append(UInt8(ascii: "l"))
            for item in items { item.encodePreservingOrder(into: &out) }
            out.append(UInt8(ascii: "e"))
        case .dictionary(let entries):
            out.append(UInt8(ascii: "d"))
            for entry in entries {
                out.append(contentsOf: String(entry.key.count).utf8)
                out.append(UInt8(ascii: ":"))
                out.append(contentsOf: entry.key)
                entry.value.encodePreservingOrder(into: &out)
            }
            out.append(UInt8(ascii: "e"))
        default:
            encode(into: &out)
        }
    }
}
