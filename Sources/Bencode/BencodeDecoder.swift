/// Decodes bencode from raw bytes, keeping the byte span of every value.
///
/// Limits keep hostile input bounded: nesting depth (no stack overflow on
/// `llllll…`), total size, and string lengths checked against the bytes left
/// before anything is allocated.
public struct BencodeDecoder: Sendable {
    public enum Strictness: Sendable {
        /// Non-canonical input is an error (for anything we hash or trust).
        case strict
        /// Non-canonical input is accepted and reported as warnings (for looking).
        case lenient
    }

    public var strictness: Strictness
    public var maxDepth: Int
    public var maxSize: Int
    /// Record the span of every value in pre-order (costs one range per value).
    public var recordsSpans: Bool
    /// Where a torrent's `pieces` string is (if set): that one string is left empty in the tree and
    /// its bytes' span put in `BencodeDocument.piecesSpan`, so a 10 MB `pieces` is not copied.
    public var uncopiedPieces: PiecesPlace?

    public enum PiecesPlace: Sendable {
        /// In the dictionary under the top level's first `info` key (a .torrent).
        case inInfo
        /// In the top-level dictionary (a bare info dictionary, as BEP 9 serves).
        case atTopLevel
    }

    public init(strictness: Strictness = .strict, maxDepth: Int = 256, maxSize: Int = 1 << 30, recordsSpans: Bool = false) {
        self.strictness = strictness
        self.maxDepth = maxDepth
        self.maxSize = maxSize
        self.recordsSpans = recordsSpans
    }

    public func decode(_ bytes: [UInt8]) throws(BencodeError) -> BencodeDocument {
        var result: Result<BencodeDocument, BencodeError>!
        bytes.withUnsafeBufferPointer { buffer in
            do throws(BencodeError) { result = .success(try decode(buffer)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    /// As `decode(_:)` over memory the caller owns (a mapped file: no copy of the input).
    public func decode(_ bytes: UnsafeBufferPointer<UInt8>) throws(BencodeError) -> BencodeDocument {
        guard bytes.count <= maxSize else {
            throw BencodeError(offset: 0, reason: .sizeLimit(maxSize))
        }
        var parser = Parser(bytes: bytes, config: self)
        let root = try parser.parseRoot()
        var document = BencodeDocument(root: root, topLevelSpans: parser.topLevelSpans, spans: parser.spans, warnings: parser.warnings)
        document.piecesSpan = parser.piecesSpan
        return document
    }

    /// Checks `bytes` as `decode` does (same errors, same warnings) without building values: no
    /// string is copied, so a 10 MB `pieces` string costs no memory. Returns, for each dictionary in
    /// pre-order, how `BencodeJSON` shows it — what `BencodeJSONStream` needs to convert in one pass.
    public func scan(_ bytes: UnsafeBufferPointer<UInt8>) throws(BencodeError) -> BencodeScan {
        guard bytes.count <= maxSize else {
            throw BencodeError(offset: 0, reason: .sizeLimit(maxSize))
        }
        var parser = Parser(bytes: bytes, config: self)
        parser.buildsValues = false
        _ = try parser.parseRoot()
        return BencodeScan(warnings: parser.warnings, dictionaryForms: parser.dictionaryForms)
    }

    /// Decodes a value from the front of `bytes` and returns how many bytes it used;
    /// bytes after it are left alone (for streams such as BEP 9 metadata messages).
    public func decodePrefix(_ bytes: ArraySlice<UInt8>) throws(BencodeError) -> (value: BencodeValue, length: Int) {
        var result: Result<(BencodeValue, Int), BencodeError>!
        bytes.withUnsafeBufferPointer { buffer in
            var parser = Parser(bytes: buffer, config: self)
            do throws(BencodeError) {
                let value = try parser.parseValue(depth: 0)
                result = .success((value, parser.position))
            } catch {
                result = .failure(error)
            }
        }
        let (value, length) = try result.get()
        return (value, length)
    }
}

/// The outcome of a decode: the value, where its parts lie in the input, and warnings.
public struct BencodeDocument: Sendable {
    public var root: BencodeValue
    /// For a dictionary root, the span of each top-level value by key (first occurrence);
    /// the info hash is the SHA-1 of `bytes[topLevelSpans["info"]]`, never of a re-encoding.
    public var topLevelSpans: [[UInt8]: Range<Int>]
    /// Every value's span in pre-order, when `recordsSpans` was set.
    public var spans: [Range<Int>]
    public var warnings: [BencodeWarning]
    /// The bytes of the `pieces` string left out of the tree (see `BencodeDecoder.uncopiedPieces`).
    public var piecesSpan: Range<Int>?

    public func span(ofTopLevelKey key: String) -> Range<Int>? {
        topLevelSpans[Array(key.utf8)]
    }
}

/// What `BencodeDecoder.scan` learnt about a document.
public struct BencodeScan: Sendable {
    public var warnings: [BencodeWarning]
    /// One per dictionary, in pre-order (see `BencodeJSON`).
    public var dictionaryForms: [BencodeJSON.DictionaryForm]
}

// MARK: - Parser

private struct Parser {
    let bytes: UnsafeBufferPointer<UInt8>
    let config: BencodeDecoder
    var position = 0
    var topLevelSpans: [[UInt8]: Range<Int>] = [:]
    var spans: [Range<Int>] = []
    var warnings: [BencodeWarning] = []
    /// False for `scan`: strings are skipped, not copied, and containers stay empty.
    var buildsValues = true
    var dictionaryForms: [BencodeJSON.DictionaryForm] = []
    /// True while parsing the value of the top level's first `info` key.
    var parsingInfo = false
    var infoSeen = false
    var piecesSpan: Range<Int>?

    init(bytes: UnsafeBufferPointer<UInt8>, config: BencodeDecoder) {
        self.bytes = bytes
        self.config = config
    }

    mutating func parseRoot() throws(BencodeError) -> BencodeValue {
        let value = try parseValue(depth: 0)
        if position < bytes.count {
            try nonCanonical(at: position, .trailingBytes(count: bytes.count - position),
                             "\(bytes.count - position) trailing bytes after the value")
        }
        return value
    }

    mutating func nonCanonical(at offset: Int, _ reason: BencodeError.Reason, _ message: String) throws(BencodeError) {
        switch config.strictness {
        case .strict: throw BencodeError(offset: offset, reason: reason)
        case .lenient: warnings.append(BencodeWarning(offset: offset, message: message))
        }
    }

    mutating func parseValue(depth: Int) throws(BencodeError) -> BencodeValue {
        guard position < bytes.count else {
            throw BencodeError(offset: position, reason: .unexpectedEnd(expected: "a value"))
        }
        let start = position
        var spanIndex = -1
        if config.recordsSpans {
            spanIndex = spans.count
            spans.append(start..<start)
        }
        let value: BencodeValue
        switch bytes[position] {
        case UInt8(ascii: "i"):
            value = try parseInteger()
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            value = .string(try parseString(copy: buildsValues))
        case UInt8(ascii: "l"):
            guard depth < config.maxDepth else { throw BencodeError(offset: position, reason: .depthLimit(config.maxDepth)) }
            position += 1
            var items: [BencodeValue] = []
            while true {
                guard position < bytes.count else {
                    throw BencodeError(offset: position, reason: .unexpectedEnd(expected: "a list item or 'e'"))
                }
                if bytes[position] == UInt8(ascii: "e") { position += 1; break }
                let item = try parseValue(depth: depth + 1)
                if buildsValues { items.append(item) }
            }
            value = .list(items)
        case UInt8(ascii: "d"):
            guard depth < config.maxDepth else { throw BencodeError(offset: position, reason: .depthLimit(config.maxDepth)) }
            value = .dictionary(try parseDictionary(depth: depth))
        default:
            throw BencodeError(offset: position, reason: .unexpectedByte(bytes[position], expected: "'i', 'l', 'd' or a string length"))
        }
        if spanIndex >= 0 { spans[spanIndex] = start..<position }
        return value
    }

    mutating func parseDictionary(depth: Int) throws(BencodeError) -> [BencodeEntry] {
        position += 1  // 'd'
        var entries: [BencodeEntry] = []
        var previousKey: [UInt8]? = nil
        // For `scan`: the JSON form needs UTF-8 keys in strict order (BencodeJSON.json(from:)).
        let formIndex = dictionaryForms.count
        if !buildsValues { dictionaryForms.append(.plain) }
        var plain = true
        var count = 0
        var firstKey: [UInt8] = []
        while true {
            guard position < bytes.count else {
                throw BencodeError(offset: position, reason: .unexpectedEnd(expected: "a dictionary key or 'e'"))
            }
            if bytes[position] == UInt8(ascii: "e") { position += 1; break }
            let keyOffset = position
            guard bytes[position] >= UInt8(ascii: "0") && bytes[position] <= UInt8(ascii: "9") else {
                throw BencodeError(offset: position, reason: .unexpectedByte(bytes[position], expected: "a string key"))
            }
            let key = try parseKey()
            if let previous = previousKey {
                if !(previous.lexicographicallyPrecedes(key)) { plain = false }
                if key == previous {
                    try nonCanonical(at: keyOffset, .nonCanonical("duplicate key \(Self.describe(key))"),
                                     "duplicate key \(Self.describe(key))")
                } else if !previous.lexicographicallyPrecedes(key) {
                    try nonCanonical(at: keyOffset, .nonCanonical("key \(Self.describe(key)) out of order"),
                                     "key \(Self.describe(key)) is out of order (keys must be sorted)")
                }
            }
            previousKey = key
            if !buildsValues {
                if plain && !BencodeJSON.isUTF8(key) { plain = false }
                if count == 0 { firstKey = key }
                count += 1
            }
            let valueStart = position
            let value: BencodeValue
            if let place = config.uncopiedPieces, piecesSpan == nil, position < bytes.count,
               bytes[position] >= UInt8(ascii: "0"), bytes[position] <= UInt8(ascii: "9"),
               place == .inInfo ? depth == 1 && parsingInfo : depth == 0,
               key.elementsEqual("pieces".utf8) {
                _ = try parseString(copy: false)
                piecesSpan = (position - lastStringLength)..<position
                value = .string([])
            } else if depth == 0 && !infoSeen && key.elementsEqual("info".utf8) {
                infoSeen = true
                parsingInfo = true
                value = try parseValue(depth: depth + 1)
                parsingInfo = false
            } else {
                value = try parseValue(depth: depth + 1)
            }
            if depth == 0 && topLevelSpans[key] == nil {
                topLevelSpans[key] = valueStart..<position
            }
            if buildsValues { entries.append(BencodeEntry(key: key, value: value)) }
        }
        if !buildsValues {
            dictionaryForms[formIndex] = !plain ? .entries : (count == 1 && BencodeJSON.isTag(firstKey) ? .tagged : .plain)
        }
        return entries
    }

    static func describe(_ key: [UInt8]) -> String {
        if let text = String(validatingUTF8Bytes: key), key.count <= 64 { return "\"\(text)\"" }
        return "of \(key.count) bytes"
    }

    mutating func parseInteger() throws(BencodeError) -> BencodeValue {
        let start = position
        position += 1  // 'i'
        let digitsStart = position
        var negative = false
        if position < bytes.count && bytes[position] == UInt8(ascii: "-") {
            negative = true
            position += 1
        }
        let firstDigit = position
        // Accumulate as we scan (no String per integer); overflow falls back to the raw digits.
        var magnitude: UInt64 = 0
        var overflow = false
        while position < bytes.count && bytes[position] >= UInt8(ascii: "0") && bytes[position] <= UInt8(ascii: "9") {
            let (times, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(UInt64(bytes[position] - UInt8(ascii: "0")))
            overflow = overflow || o1 || o2
            magnitude = sum
            position += 1
        }
        guard position < bytes.count else {
            throw BencodeError(offset: position, reason: .unexpectedEnd(expected: "a digit or 'e'"))
        }
        guard bytes[position] == UInt8(ascii: "e") else {
            throw BencodeError(offset: position, reason: .unexpectedByte(bytes[position], expected: "a digit or 'e'"))
        }
        let digitCount = position - firstDigit
        guard digitCount > 0 else {
            throw BencodeError(offset: start, reason: .invalidInteger("no digits"))
        }
        let end = position
        position += 1  // 'e'
        var canonical = true
        if bytes[firstDigit] == UInt8(ascii: "0") && digitCount > 1 {
            canonical = false
            try nonCanonical(at: start, .invalidInteger("leading zero in \(text(digitsStart, end))"),
                             "integer \(text(digitsStart, end)) has a leading zero")
        }
        if negative && bytes[firstDigit] == UInt8(ascii: "0") {
            canonical = false
            try nonCanonical(at: start, .invalidInteger("negative zero"), "integer \(text(digitsStart, end)) is negative zero")
        }
        if canonical && !overflow {
            if !negative && magnitude <= UInt64(Int64.max) { return .integer(Int64(magnitude)) }
            if negative && magnitude <= UInt64(Int64.max) + 1 { return .integer(magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)) }
        }
        return .rawInteger(text(digitsStart, end))
    }

    func text(_ from: Int, _ to: Int) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[from..<to]), as: UTF8.self)
    }

    /// Dictionary keys repeat (every file entry has `length` and `path`): the same bytes share one
    /// array instead of allocating a new one each time.
    var internedKeys: [[UInt8]] = []
    var lastStringLength = 0

    mutating func parseKey() throws(BencodeError) -> [UInt8] {
        let start = position
        var length = 0
        while position < bytes.count, bytes[position] >= UInt8(ascii: "0"), bytes[position] <= UInt8(ascii: "9"), length < 1 << 20 {
            length = length * 10 + Int(bytes[position] - UInt8(ascii: "0"))
            position += 1
        }
        let colon = position
        position = start
        if length <= 32, colon < bytes.count, bytes[colon] == UInt8(ascii: ":"), colon + 1 + length <= bytes.count,
           bytes[start] != UInt8(ascii: "0") || colon - start == 1 {
            let candidate = UnsafeBufferPointer(rebasing: bytes[(colon + 1)..<(colon + 1 + length)])
            for key in internedKeys where key.count == length && key.elementsEqual(candidate) {
                position = colon + 1 + length
                return key
            }
            let key = try parseString()
            if internedKeys.count < 64 { internedKeys.append(key) }
            return key
        }
        return try parseString()
    }

    mutating func parseString(copy: Bool = true) throws(BencodeError) -> [UInt8] {
        let start = position
        var length = 0
        while position < bytes.count && bytes[position] >= UInt8(ascii: "0") && bytes[position] <= UInt8(ascii: "9") {
            let (times, overflow1) = length.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(Int(bytes[position] - UInt8(ascii: "0")))
            if overflow1 || overflow2 {
                throw BencodeError(offset: start, reason: .stringTooLong(length: Int.max, available: bytes.count - position))
            }
            length = sum
            position += 1
        }
        guard position < bytes.count else {
            throw BencodeError(offset: position, reason: .unexpectedEnd(expected: "':' after a string length"))
        }
        guard bytes[position] == UInt8(ascii: ":") else {
            throw BencodeError(offset: position, reason: .unexpectedByte(bytes[position], expected: "a digit or ':' in a string length"))
        }
        if bytes[start] == UInt8(ascii: "0") && position - start > 1 {
            try nonCanonical(at: start, .nonCanonical("string length with a leading zero"),
                             "string length has a leading zero")
        }
        position += 1
        let available = bytes.count - position
        guard length <= available else {
            throw BencodeError(offset: start, reason: .stringTooLong(length: length, available: available))
        }
        lastStringLength = length
        guard copy else {
            position += length
            return []
        }
        let string = Array(UnsafeBufferPointer(rebasing: bytes[position..<(position + length)]))
        position += length
        return string
    }
}
