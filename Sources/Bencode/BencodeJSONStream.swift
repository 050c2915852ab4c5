import JSON

extension BencodeJSON {
    /// How `json(from:)` shows a dictionary: plain object, `{"$dict": …}` or `{"$entries": …}`.
    public enum DictionaryForm: UInt8, Sendable {
        case plain, tagged, entries
    }

    /// Strict UTF-8 check without building a String for ASCII (most keys and names).
    public static func isUTF8<C: Collection>(_ bytes: C) -> Bool where C.Element == UInt8 {
        if bytes.allSatisfy({ $0 < 0x80 }) { return true }
        return String(validatingUTF8Bytes: bytes) != nil
    }

    /// A key `json(from:)` would wrap in `$dict` when it is the only one (a String prefix, as there).
    static func isTag(_ key: [UInt8]) -> Bool {
        key.first == UInt8(ascii: "$") && (String(validatingUTF8Bytes: key)?.hasPrefix("$") ?? false)
    }
}

/// Writes the JSON of `BencodeJSON.json(from:)` (as `JSONWriter` prints it, newline-terminated)
/// straight from bencode bytes that `BencodeDecoder.scan` accepted: no value tree, no copy of big
/// strings, hex written in place, output handed to `flush` in chunks of a reused buffer (a 10 MB
/// `pieces` string becomes 20 MB of hex without ever holding it whole).
public struct BencodeJSONStream {
    let bytes: UnsafeBufferPointer<UInt8>
    let forms: [BencodeJSON.DictionaryForm]
    let pretty: Bool
    let flush: ([UInt8]) -> Void
    var formIndex = 0
    var position = 0
    var out: [UInt8] = []
    static let chunk = 1 << 18

    /// Converts the first value of `bytes` (trailing bytes are ignored, as by the lenient decoder).
    public static func write(_ bytes: UnsafeBufferPointer<UInt8>, scan: BencodeScan, pretty: Bool,
                             flush: @escaping ([UInt8]) -> Void) {
        var stream = BencodeJSONStream(bytes: bytes, forms: scan.dictionaryForms, pretty: pretty, flush: flush)
        stream.out.reserveCapacity(chunk + 4096)
        stream.value(indent: 0)
        stream.out.append(UInt8(ascii: "\n"))
        flush(stream.out)
    }

    mutating func spill() {
        if out.count >= Self.chunk {
            flush(out)
            out.removeAll(keepingCapacity: true)
        }
    }

    mutating func newline(_ indent: Int) {
        guard pretty else { return }
        out.append(UInt8(ascii: "\n"))
        out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: indent * 2))
    }

    mutating func raw(_ text: StaticString) {
        out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// `{"TAG": ` of a one-key object, up to its value.
    mutating func openTag(_ tag: StaticString, indent: Int) {
        out.append(UInt8(ascii: "{"))
        newline(indent + 1)
        raw(tag)
        if pretty { out.append(UInt8(ascii: " ")) }
    }

    mutating func closeTag(indent: Int) {
        newline(indent)
        out.append(UInt8(ascii: "}"))
    }

    mutating func value(indent: Int) {
        spill()
        switch bytes[position] {
        case UInt8(ascii: "i"): integer(indent: indent)
        case UInt8(ascii: "l"):
            position += 1
            if bytes[position] == UInt8(ascii: "e") { position += 1; raw("[]"); return }
            out.append(UInt8(ascii: "["))
            var first = true
            while bytes[position] != UInt8(ascii: "e") {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                newline(indent + 1)
                value(indent: indent + 1)
            }
            position += 1
            newline(indent)
            out.append(UInt8(ascii: "]"))
        case UInt8(ascii: "d"): dictionary(indent: indent)
        default: string(indent: indent)
        }
    }

    mutating func dictionary(indent: Int) {
        let form = forms[formIndex]
        formIndex += 1
        position += 1  // 'd'
        if bytes[position] == UInt8(ascii: "e") { position += 1; raw("{}"); return }
        switch form {
        case .plain:
            plainObject(indent: indent)
        case .tagged:
            openTag("\"$dict\":", indent: indent)
            plainObject(indent: indent + 1)
            closeTag(indent: indent)
        case .entries:
            openTag("\"$entries\":", indent: indent)
            out.append(UInt8(ascii: "["))
            var first = true
            while bytes[position] != UInt8(ascii: "e") {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                newline(indent + 2)
                out.append(UInt8(ascii: "["))
                newline(indent + 3)
                string(indent: indent + 3)
                out.append(UInt8(ascii: ","))
                newline(indent + 3)
                value(indent: indent + 3)
                newline(indent + 2)
                out.append(UInt8(ascii: "]"))
            }
            position += 1
            newline(indent + 1)
            out.append(UInt8(ascii: "]"))
            closeTag(indent: indent)
        }
    }

    /// A non-empty dictionary whose keys are UTF-8, sorted and unique; `position` is past the 'd'.
    mutating func plainObject(indent: Int) {
        out.append(UInt8(ascii: "{"))
        var first = true
        while bytes[position] != UInt8(ascii: "e") {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            newline(indent + 1)
            string(indent: indent + 1)
            out.append(UInt8(ascii: ":"))
            if pretty { out.append(UInt8(ascii: " ")) }
            value(indent: indent + 1)
        }
        position += 1
        newline(indent)
        out.append(UInt8(ascii: "}"))
    }

    mutating func integer(indent: Int) {
        position += 1  // 'i'
        let start = position
        while bytes[position] != UInt8(ascii: "e") { position += 1 }
        let digits = UnsafeBufferPointer(rebasing: bytes[start..<position])
        position += 1
        if Self.isCanonicalInt64(digits) {
            out.append(contentsOf: digits)
        } else {
            openTag("\"$int\":", indent: indent)
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: digits)
            out.append(UInt8(ascii: "\""))
            closeTag(indent: indent)
        }
    }

    /// Digits that `Int64` holds and prints back the same (no leading zero, no `-0`).
    static func isCanonicalInt64(_ digits: UnsafeBufferPointer<UInt8>) -> Bool {
        var body = digits[...]
        let negative = body.first == UInt8(ascii: "-")
        if negative { body = body.dropFirst() }
        guard let lead = body.first, !(lead == UInt8(ascii: "0") && (body.count > 1 || negative)) else { return false }
        guard body.count <= 19 else { return false }
        var magnitude: UInt64 = 0
        for digit in body { magnitude = magnitude * 10 + UInt64(digit - UInt8(ascii: "0")) }
        return magnitude <= UInt64(Int64.max) + (negative ? 1 : 0)
    }

    mutating func string(indent: Int) {
        var length = 0
        while bytes[position] != UInt8(ascii: ":") {
            length = length * 10 + Int(bytes[position] - UInt8(ascii: "0"))
            position += 1
        }
        position += 1
        let text = UnsafeBufferPointer(rebasing: bytes[position..<(position + length)])
        position += length
        if BencodeJSON.isUTF8(text) {
            escaped(text)
        } else {
            openTag("\"$hex\":", indent: indent)
            out.append(UInt8(ascii: "\""))
            hex(text)
            out.append(UInt8(ascii: "\""))
            closeTag(indent: indent)
        }
    }

    /// As `JSONWriter.writeString`.
    mutating func escaped(_ text: UnsafeBufferPointer<UInt8>) {
        JSONWriter.writeString(bytes: text, into: &out)
    }

    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    mutating func hex(_ data: UnsafeBufferPointer<UInt8>) {
        var offset = 0
        while offset < data.count {
            let end = min(data.count, offset + Self.chunk / 2)
            let start = out.count
            let count = (end - offset) * 2
            out.append(contentsOf: repeatElement(0, count: count))
            out.withUnsafeMutableBufferPointer { buffer in
                Self.hexDigits.withUnsafeBufferPointer { digits in
                    var at = start
                    for index in offset..<end {
                        let byte = data[index]
                        buffer[at] = digits[Int(byte >> 4)]
                        buffer[at + 1] = digits[Int(byte & 0xF)]
                        at += 2
                    }
                }
            }
            offset = end
            spill()
        }
    }
}
