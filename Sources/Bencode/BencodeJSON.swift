import JSON

/// The lossless mapping between bencode and JSON used by `tt decode` and `tt encode`.
///
/// Plain cases map directly: integers to numbers, UTF-8 byte strings to strings,
/// lists to arrays, dictionaries with sorted, unique UTF-8 keys to objects.
/// Everything else is a one-key object whose key starts with `$`:
/// - `{"$hex": "00ff"}`: a byte string that is not valid UTF-8;
/// - `{"$int": "007"}`: an integer written non-canonically or beyond 64 bits, digits as written;
/// - `{"$entries": [[key, value], …]}`: a dictionary with a binary, duplicate or out-of-order key,
///   its entries in file order (a key is a string or a `$hex` object);
/// - `{"$dict": {…}}`: a real dictionary that itself has one key starting with `$`.
public enum BencodeJSON {
    public static func json(from value: BencodeValue) -> JSONValue {
        switch value {
        case .integer(let number): return .int(number)
        case .rawInteger(let digits): return ["$int": .string(digits)]
        case .string(let bytes): return json(bytes: bytes)
        case .list(let items): return .array(items.map(json(from:)))
        case .dictionary(let entries):
            var plain: [JSONField] = []
            plain.reserveCapacity(entries.count)
            var previous: [UInt8]? = nil
            for entry in entries {
                guard let key = String(validatingUTF8Bytes: entry.key),
                      previous.map({ $0.lexicographicallyPrecedes(entry.key) }) ?? true else {
                    return ["$entries": .array(entries.map { .array([json(bytes: $0.key), json(from: $0.value)]) })]
                }
                previous = entry.key
                plain.append(JSONField(key, json(from: entry.value)))
            }
            if plain.count == 1 && plain[0].key.hasPrefix("$") {
                return ["$dict": .object(plain)]
            }
            return .object(plain)
        }
    }

    static func json(bytes: [UInt8]) -> JSONValue {
        if let text = String(validatingUTF8Bytes: bytes) { return .string(text) }
        return ["$hex": .string(Hex.encode(bytes))]
    }

    public struct ConversionError: Error, Equatable, CustomStringConvertible {
        public var path: String
        public var message: String
        public var description: String { "at \(path.isEmpty ? "the top level" : path): \(message)" }
    }

    /// Encodes the JSON form back to bencode bytes. Plain objects are written with sorted
    /// keys (canonical); `$entries` keeps its order, so non-canonical input round-trips exactly.
    public static func bencodeBytes(from json: JSONValue) throws(ConversionError) -> [UInt8] {
        var out: [UInt8] = []
        try encode(json, path: "", into: &out)
        return out
    }

    static func encode(_ json: JSONValue, path: String, into out: inout [UInt8]) throws(ConversionError) {
        switch json {
        case .null: throw ConversionError(path: path, message: "bencode has no null")
        case .bool: throw ConversionError(path: path, message: "bencode has no booleans (use 0 or 1)")
        case .double: throw ConversionError(path: path, message: "bencode has only integers")
        case .int(let number): BencodeValue.integer(number).encode(into: &out)
        case .string(let text): BencodeValue.string(Array(text.utf8)).encode(into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "l"))
            for (index, item) in items.enumerated() {
                try encode(item, path: "\(path)[\(index)]", into: &out)
            }
            out.append(UInt8(ascii: "e"))
        case .object(let fields):
            if fields.count == 1 && fields[0].key.hasPrefix("$") {
                try encodeTagged(fields[0].key, fields[0].value, path: path, into: &out)
            } else {
                try encodeSorted(fields, path: path, into: &out)
            }
        }
    }

    static func encodeSorted(_ fields: [JSONField], path: String, into out: inout [UInt8]) throws(ConversionError) {
        var entries: [(key: [UInt8], value: [UInt8])] = []
        for field in fields {
            var value: [UInt8] = []
            try encode(field.value, path: "\(path).\(field.key)", into: &value)
            entries.append((Array(field.key.utf8), value))
        }
        entries.sort { $0.key.lexicographicallyPrecedes($1.key) }
        for index in entries.indices.dropFirst() where entries[index].key == entries[index - 1].key {
            throw ConversionError(path: path, message: "duplicate key \"\(String(decoding: entries[index].key, as: UTF8.self))\" (use $entries to keep duplicates)")
        }
        out.append(UInt8(ascii: "d"))
        for entry in entries {
            BencodeValue.string(entry.key).encode(into: &out)
            out.append(contentsOf: entry.value)
        }
        out.append(UInt8(ascii: "e"))
    }

    static func encodeTagged(_ tag: String, _ json: JSONValue, path: String, into out: inout [UInt8]) throws(ConversionError) {
        switch tag {
        case "$hex":
            guard case .string(let hex) = json, let bytes = Hex.decode(hex) else {
                throw ConversionError(path: path, message: "$hex needs a string of hex digits")
            }
            BencodeValue.string(bytes).encode(into: &out)
        case "$int":
            guard case .string(let digits) = json, isIntegerText(digits) else {
                throw ConversionError(path: path, message: "$int needs a string of digits")
            }
            BencodeValue.rawInteger(digits).encode(into: &out)
        case "$dict":
            guard case .object(let fields) = json else {
                throw ConversionError(path: path, message: "$dict needs an object")
            }
            try encodeSorted(fields, path: path, into: &out)
        case "$entries":
            guard case .array(let pairs) = json else {
                throw ConversionError(path: path, message: "$entries needs an array of [key, value] pairs")
            }
            out.append(UInt8(ascii: "d"))
            for (index, pair) in pairs.enumerated() {
                guard case .array(let items) = pair, items.count == 2 else {
                    throw ConversionError(path: "\(path)[\(index)]", message: "expected a [key, value] pair")
                }
                var key: [UInt8] = []
                try encode(items[0], path: "\(path)[\(index)][0]", into: &key)
                guard let first = key.first, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9") else {
                    throw ConversionError(path: "\(path)[\(index)][0]", message: "a dictionary key must be a string")
                }
                out.append(contentsOf: key)
                try encode(items[1], path: "\(path)[\(index)][1]", into: &out)
            }
            out.append(UInt8(ascii: "e"))
        default:
            throw ConversionError(path: path, message: "unknown tag \(tag) (a one-key object with a $ key is a tag: $hex, $int, $entries or $dict)")
        }
    }

    static func isIntegerText(_ text: String) -> Bool {
        var body = Substring(text)
        if body.hasPrefix("-") { body = body.dropFirst() }
        return !body.isEmpty && body.allSatisfy { $0 >= "0" && $0 <= "9" }
    }
}
