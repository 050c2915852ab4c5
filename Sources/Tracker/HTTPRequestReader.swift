/// The request line of an HTTP/1.1 request, as our tracker reads it (headers are not used).
public struct HTTPRequestLine: Sendable, Equatable {
    public var method: String
    /// The raw target bytes: path, then `?` and the query when there is one.
    public var target: [UInt8]

    public init(method: String, target: [UInt8]) {
        self.method = method
        self.target = target
    }

    /// The target before `?`.
    public var path: ArraySlice<UInt8> {
        target.firstIndex(of: UInt8(ascii: "?")).map { target[..<$0] } ?? target[...]
    }

    /// The target after the first `?` (empty when there is none).
    public var query: ArraySlice<UInt8> {
        target.firstIndex(of: UInt8(ascii: "?")).map { target[($0 + 1)...] } ?? []
    }

    /// The request as a client sends it (no headers).
    public func encoded() -> [UInt8] {
        Array(method.utf8) + [UInt8(ascii: " ")] + target + Array(" HTTP/1.1\r\n\r\n".utf8)
    }
}

/// Reads an HTTP request head from a byte stream, fed in any chunks. Answers "need more",
/// the request line, or an error; the head is capped before it is buffered further, so a
/// client that never ends its headers costs at most `maxHead` bytes.
public struct HTTPRequestReader: Sendable {
    public enum ReadError: Error, Equatable, Sendable {
        /// No blank line within `maxHead` bytes (431).
        case headTooLarge(limit: Int)
        /// The request line is not `METHOD TARGET HTTP/1.x` (400).
        case badRequestLine
    }

    public enum State: Equatable, Sendable {
        case needMore
        case request(HTTPRequestLine)
    }

    public let maxHead: Int
    private var buffer: [UInt8] = []
    /// Where the search for the blank line resumes.
    private var scanned = 0

    public init(maxHead: Int = 8192) {
        self.maxHead = maxHead
    }

    public mutating func feed<C: Collection>(_ bytes: C) throws(ReadError) -> State where C.Element == UInt8 {
        // Only the first maxHead + 4 bytes can hold a head's end; the rest is never kept.
        let room = maxHead + 4 - buffer.count
        if room > 0 { buffer.append(contentsOf: bytes.prefix(room)) }
        var index = max(0, scanned - 3)
        while index + 3 < buffer.count {
            if buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13 && buffer[index + 3] == 10 {
                guard index <= maxHead else { throw .headTooLarge(limit: maxHead) }
                return .request(try Self.parseLine(buffer[..<index]))
            }
            index += 1
        }
        scanned = buffer.count
        if buffer.count > maxHead + 3 { throw .headTooLarge(limit: maxHead) }
        return .needMore
    }

    static func parseLine(_ head: ArraySlice<UInt8>) throws(ReadError) -> HTTPRequestLine {
        let line = head.prefix { $0 != 13 }
        let parts = line.split(separator: UInt8(ascii: " "))
        guard parts.count == 3, parts[2].starts(with: Array("HTTP/1.".utf8)),
              let method = String(validatingUTF8Bytes: parts[0]) else { throw .badRequestLine }
        return HTTPRequestLine(method: method, target: Array(parts[1]))
    }
}
