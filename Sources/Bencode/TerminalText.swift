/// Text from a torrent, tracker or peer made safe to print on a terminal (human output only;
/// JSON output stays exact).
///
/// A name may carry NUL, escape sequences (ESC, the 8-bit CSI), carriage returns or bidi overrides
/// that rewrite what the user sees; they are shown as visible escapes instead: `\n`, `\r`, `\t`,
/// `\u{1B}` for other control and format characters, and `\xNN` for bytes that are not UTF-8.
/// Backslashes are left alone, so ordinary Windows-style text stays readable.
public enum TerminalText {
    /// Escapes the characters of valid text.
    public static func escape(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars { append(scalar, to: &out) }
        return out
    }

    /// Escapes the characters of text laid out in lines: like `escape(_:)`, but newlines and tabs
    /// stay. The last line of defence in every command's text output and messages.
    public static func escapeKeepingLayout(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { needsEscape($0) && $0 != "\n" && $0 != "\t" }) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            if scalar == "\n" || scalar == "\t" { out.unicodeScalars.append(scalar) } else { append(scalar, to: &out) }
        }
        return out
    }

    /// Escapes raw bytes: valid UTF-8 runs as `escape(_:)` does, every other byte as `\xNN`.
    public static func escape<C: Collection>(bytes: C) -> String where C.Element == UInt8 {
        if let text = String(validating: bytes, as: UTF8.self) { return escape(text) }
        var out = ""
        var decoder = UTF8()
        // Decode from each position so that every byte of an invalid sequence shows as itself.
        let array = Array(bytes)
        var position = 0
        while position < array.count {
            let slice = array[position...]
            var sliceIterator = slice.makeIterator()
            switch decoder.decode(&sliceIterator) {
            case .scalarValue(let scalar):
                append(scalar, to: &out)
                position += UTF8.width(scalar)
            case .error, .emptyInput:
                out += "\\x" + Hex.encode([array[position]])
                position += 1
                decoder = UTF8()
            }
        }
        return out
    }

    /// Whether a scalar would change the terminal's state or hide text.
    public static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: return true                  // C0, DEL, C1 (0x9B is an 8-bit CSI)
        case 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return true  // bidi marks and overrides
        case 0x2028, 0x2029: return true                             // line and paragraph separators
        default: return false
        }
    }

    static func append(_ scalar: Unicode.Scalar, to out: inout String) {
        guard needsEscape(scalar) else { out.unicodeScalars.append(scalar); return }
        switch scalar {
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default: out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
        }
    }
}

extension String {
    /// This text escaped for a terminal (see `TerminalText`).
    public var terminalSafe: String { TerminalText.escape(self) }
}
