/// Serialises `JSONValue` straight into bytes. Hand-written because Foundation's
/// encoders run ~10 MB/s on large documents; this one runs ~10× that.
public struct JSONWriter: Sendable {
    public var pretty: Bool

    public init(pretty: Bool = false) {
        self.pretty = pretty
    }

    public func bytes(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(value, into: &out, indent: 0)
        return out
    }

    public func string(_ value: JSONValue) -> String {
        String(decoding: bytes(value), as: UTF8.self)
    }

    /// Writes `value` and a newline in pieces of about `chunkSize` bytes, each handed to `emit` as it
    /// fills (then reused): a large document (`tt info --json` of 100 000 files is 21 MB) never sits
    /// whole in memory, nor is it copied each time its buffer grows.
    public func write(_ value: JSONValue, chunkSize: Int = 64 << 10, emit: ([UInt8]) -> Void) {
        var out: [UInt8] = []
        out.reserveCapacity(chunkSize + 1024)
        write(value, into: &out, indent: 0) { out in
            guard out.count >= chunkSize else { return }
            emit(out)
            out.removeAll(keepingCapacity: true)
        }
        out.append(UInt8(ascii: "\n"))
        emit(out)
    }

    public func write(_ value: JSONValue, into out: inout [UInt8], indent: Int) {
        write(value, into: &out, indent: indent, flush: { _ in })
    }

    /// `flush` runs after each element of an array or object and may take what `out` holds.
    private func write(_ value: JSONValue, into out: inout [UInt8], indent: Int, flush: (inout [UInt8]) -> Void) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let flag): out.append(contentsOf: (flag ? "true" : "false").utf8)
        case .int(let number): out.append(contentsOf: String(number).utf8)
        case .double(let number):
            if number.isFinite {
                if number == number.rounded() && abs(number) < 1e15 {
                    out.append(contentsOf: String(Int64(number)).utf8)
                } else {
                    out.append(contentsOf: String(number).utf8)
                }
            } else {
                out.append(contentsOf: "null".utf8)
            }
        case .string(let text): Self.writeString(text, into: &out)
        case .array(let items):
            if items.isEmpty { out.append(contentsOf: "[]".utf8); return }
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                newline(&out, indent + 1)
                write(item, into: &out, indent: indent + 1, flush: flush)
                flush(&out)
            }
            newline(&out, indent)
            out.append(UInt8(ascii: "]"))
        case .object(let fields):
            if fields.isEmpty { out.append(contentsOf: "{}".utf8); return }
            out.append(UInt8(ascii: "{"))
            for (index, field) in fields.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                newline(&out, indent + 1)
                Self.writeString(field.key, into: &out)
                out.append(UInt8(ascii: ":"))
                if pretty { out.append(UInt8(ascii: " ")) }
                write(field.value, into: &out, indent: indent + 1, flush: flush)
                flush(&out)
            }
            newline(&out, indent)
            out.append(UInt8(ascii: "}"))
        }
    }

    private func newline(_ out: inout [UInt8], _ indent: Int) {
        guard pretty else { return }
        out.append(UInt8(ascii: "\n"))
        out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: indent * 2))
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    public static func writeString(_ text: String, into out: inout [UInt8]) {
        var text = text
        text.withUTF8 { writeString(bytes: $0, into: &out) }
    }

    /// Writes UTF-8 bytes as a JSON string (the caller has checked they are UTF-8).
    public static func writeString(bytes text: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most strings (hex hashes, names) need no escape: copy them whole.
        if !text.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C || $0 == 0x7F }) {
            out.append(contentsOf: text)
            out.append(UInt8(ascii: "\""))
            return
        }
        for byte in text {
            switch byte {
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "\\"))
            case 0x0A: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
            case 0x09: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
            case 0..<0x20, 0x7F:
                out.append(contentsOf: "\\u00".utf8)
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
