/// A bencoded value (BEP 3): integer, byte string, list or dictionary.
///
/// Dictionaries keep their entries in the order they appeared, so a decoded
/// value can be shown as it stands in the file; `encode` sorts them.
public enum BencodeValue: Hashable, Sendable {
    case integer(Int64)
    /// An integer that cannot round-trip through `Int64`: out of range, or written
    /// non-canonically (`i007e`). Holds the digits exactly as written.
    // Only the rare and the recursive cases are boxed: integers and strings (most values of a
    // large torrent) then cost no allocation beyond their own bytes.
    indirect case rawInteger(String)
    case string([UInt8])
    indirect case list([BencodeValue])
    indirect case dictionary([BencodeEntry])
}

/// One key/value pair of a bencoded dictionary.
public struct BencodeEntry: Hashable, Sendable {
    public var key: [UInt8]
    public var value: BencodeValue

    public init(key: [UInt8], value: BencodeValue) {
        self.key = key
        self.value = value
    }

    public init(_ key: String, _ value: BencodeValue) {
        self.init(key: Array(key.utf8), value: value)
    }
}

// MARK: - Convenience accessors

extension BencodeValue {
    public static func string(_ text: String) -> BencodeValue { .string(Array(text.utf8)) }

    public var integerValue: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    public var bytesValue: [UInt8]? {
        if case .string(let bytes) = self { return bytes }
        return nil
    }

    /// The byte string as UTF-8 text, or nil when it is not a string or not valid UTF-8.
    public var textValue: String? {
        guard case .string(let bytes) = self else { return nil }
        return String(validatingUTF8Bytes: bytes)
    }

    public var listValue: [BencodeValue]? {
        if case .list(let items) = self { return items }
        return nil
    }

    public var dictionaryEntries: [BencodeEntry]? {
        if case .dictionary(let entries) = self { return entries }
        return nil
    }

    /// The first value stored under `key` when this is a dictionary.
    public subscript(key: String) -> BencodeValue? {
        guard case .dictionary(let entries) = self else { return nil }
        // Compares contiguous bytes: this runs for every key of every file entry of large torrents.
        var key = key
        return key.withUTF8 { wanted in
            entries.first(where: { entry in
                entry.key.count == wanted.count && entry.key.elementsEqual(wanted)
            })?.value
        }
    }

    /// A dictionary built from pairs; `encode` sorts keys, so order here does not matter.
    public static func dict(_ pairs: [(String, BencodeValue)]) -> BencodeValue {
        .dictionary(pairs.map { BencodeEntry($0.0, $0.1) })
    }
}

extension String {
    /// Decodes UTF-8 strictly: nil on any invalid sequence (unlike `String(decoding:as:)`,
    /// which silently substitutes U+FFFD and would make `decode` lossy).
    ///
    /// Inlinable, and ASCII (nearly every key and file name) taken as it stands: the standard
    /// library's validation is generic and not specialised across modules, and looked up its type
    /// metadata on every call (a tenth of `tt info` on a torrent of 100 000 files).
    @inlinable
    public init?<C: Collection>(validatingUTF8Bytes bytes: C) where C.Element == UInt8 {
        let isASCII = bytes.withContiguousStorageIfAvailable { buffer in
            var any: UInt8 = 0
            for byte in buffer { any |= byte }
            return any < 0x80
        }
        if isASCII == true {
            self = String(decoding: bytes, as: UTF8.self)
            return
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { return nil }
        self = text
    }
}
