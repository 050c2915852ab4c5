/// Why a byte sequence is not valid bencode, with the offset where it went wrong.
public struct BencodeError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Reason: Equatable, Sendable {
        case unexpectedEnd(expected: String)
        case unexpectedByte(UInt8, expected: String)
        case invalidInteger(String)
        case stringTooLong(length: Int, available: Int)
        case depthLimit(Int)
        case sizeLimit(Int)
        case trailingBytes(count: Int)
        case nonCanonical(String)
    }

    public var offset: Int
    public var reason: Reason

    public init(offset: Int, reason: Reason) {
        self.offset = offset
        self.reason = reason
    }

    public var description: String {
        "offset \(offset): \(reasonText)"
    }

    public var reasonText: String {
        switch reason {
        case .unexpectedEnd(let expected):
            return "unexpected end of data, expected \(expected)"
        case .unexpectedByte(let byte, let expected):
            return "expected \(expected), found \(BencodeError.show(byte))"
        case .invalidInteger(let why):
            return "invalid integer: \(why)"
        case .stringTooLong(let length, let available):
            return "string length \(length) exceeds the \(available) bytes left"
        case .depthLimit(let limit):
            return "nesting deeper than \(limit) levels"
        case .sizeLimit(let limit):
            return "input larger than the \(limit)-byte limit"
        case .trailingBytes(let count):
            return "\(count) trailing byte\(count == 1 ? "" : "s") after the value"
        case .nonCanonical(let why):
            return "not canonical bencode: \(why)"
        }
    }

    static func show(_ byte: UInt8) -> String {
        if byte >= 0x20 && byte < 0x7f { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x" + String(byte, radix: 16)
    }
}

/// A non-canonical construct that a lenient decode accepted.
public struct BencodeWarning: Equatable, Sendable, CustomStringConvertible {
    public var offset: Int
    public var message: String
    public var description: String { "offset \(offset): \(message)" }
}
