/// An HTTP/1.1 response, as much of it as a tracker client needs.
public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    public var reason: String
    /// Header names lowercased, in order.
    public var headers: [(String, String)]
    public var body: [UInt8]

    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.0 == wanted }?.1
    }

    public static func == (a: HTTPResponse, b: HTTPResponse) -> Bool {
        a.status == b.status && a.reason == b.reason && a.body == b.body
            && a.headers.map { $0.0 + ":" + $0.1 } == b.headers.map { $0.0 + ":" + $0.1 }
    }
}

/// Incremental HTTP/1.1 response parser: feed bytes as they come; it answers "need more",
/// a complete response, or an error. Header and body sizes are capped before buffering.
public struct HTTPResponseParser: Sendable {
    public enum ParseError: Error, Equatable, Sendable {
        case notHTTP(excerpt: [UInt8])
        case headersTooLarge
        case bodyTooLarge(Int)
        case badChunk
        case truncated
    }

    public enum State: Equatable, Sendable {
        case needMore
        case complete(HTTPResponse)
    }

    public let maxBody: Int
    public let maxHeader: Int
    private static let httpPrefix = Array("HTTP/".utf8)
    private var buffer: [UInt8] = []
    private var head: (status: Int, reason: String, headers: [(String, String)])?
    private var bodyStart = 0
    private var headerScanned = 0

    public init(maxBody: Int, maxHeader: Int = 16 * 1024) {
        self.maxBody = maxBody
        self.maxHeader = maxHeader
    }

    /// Adds bytes; `endOfStream` says the server closed the connection.
    public mutating func feed<C: Collection>(_ bytes: C, endOfStream: Bool = false) throws(ParseError) -> State where C.Element == UInt8 {
        buffer.append(contentsOf: bytes)
        if head == nil {
            // Judged on the first bytes however they arrive (whole, a head found at once, or a byte at a time).
            if !buffer.prefix(5).elementsEqual(Self.httpPrefix.prefix(min(buffer.count, 5))) {
                throw .notHTTP(excerpt: Array(buffer.prefix(80)))
            }
            guard let end = findHeaderEnd() else {
                // Past maxHeader + 4 bytes the blank line can no longer end within the limit (the
                // same verdict the whole-input path gives for a head that ends later).
                if buffer.count >= maxHeader + 4 { throw .headersTooLarge }
                if endOfStream { throw buffer.isEmpty ? .truncated : .notHTTP(excerpt: Array(buffer.prefix(80))) }
                return .needMore
            }
            guard end <= maxHeader else { throw .headersTooLarge }
            head = try parseHead(Array(buffer[..<end]))
            bodyStart = end + 4
        }
        guard let head else { return .needMore }
        let body = buffer[bodyStart...]
        let complete = { (bytes: [UInt8]) in State.complete(HTTPResponse(status: head.status, reason: head.reason, headers: head.headers, body: bytes)) }
        if head.status == 204 || head.status == 304 || (100..<200).contains(head.status) { return complete([]) }
        if let encoding = header("transfer-encoding", head.headers), encoding.lowercased().contains("chunked") {
            if let decoded = try decodeChunked(body) { return complete(decoded) }
            if body.count > maxBody + 64 * 1024 + 2 { throw .bodyTooLarge(maxBody) }
            if endOfStream { throw .truncated }
            return .needMore
        }
        if let lengthText = header("content-length", head.headers) {
            guard let length = Int(lengthText.trimmingSpaces), length >= 0 else { throw .notHTTP(excerpt: Array(lengthText.utf8)) }
            guard length <= maxBody else { throw .bodyTooLarge(maxBody) }
            if body.count >= length { return complete(Array(body.prefix(length))) }
            if endOfStream { throw .truncated }
            return .needMore
        }
        if body.count > maxBody { throw .bodyTooLarge(maxBody) }
        return endOfStream ? complete(Array(body)) : .needMore
    }

    private func header(_ name: String, _ headers: [(String, String)]) -> String? {
        headers.first { $0.0 == name }?.1
    }

    /// Resumes where the last search stopped: a head trickled a byte at a time costs linear time.
    private mutating func findHeaderEnd() -> Int? {
        let from = max(0, headerScanned - 3)
        guard buffer.count >= 4, from <= buffer.count - 4 else { return nil }
        for index in from...(buffer.count - 4)
        where buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13 && buffer[index + 3] == 10 {
            return index
        }
        headerScanned = buffer.count
        return nil
    }

    private func parseHead(_ bytes: [UInt8]) throws(ParseError) -> (Int, String, [(String, String)]) {
        let text = String(decoding: bytes, as: UTF8.self)
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]), (100...999).contains(status) else {
            throw .notHTTP(excerpt: Array(bytes.prefix(80)))
        }
        var headers: [(String, String)] = []
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((line[..<colon].lowercased(), String(line[line.index(after: colon)...]).trimmingSpaces))
        }
        return (status, parts.count > 2 ? String(parts[2]) : "", headers)
    }

    /// The whole body when every chunk up to the last (0-size) one is here; nil when more is needed.
    private func decodeChunked(_ body: ArraySlice<UInt8>) throws(ParseError) -> [UInt8]? {
        var out: [UInt8] = []
        var index = body.startIndex
        while true {
            // A chunk-size line (with any extensions) longer than this is refused whether or
            // not its end has arrived yet, so the answer never depends on how the body was cut.
            let maxLine = 1024
            guard let lineEnd = findCRLF(body, from: index, limit: maxLine + 2) else {
                if body.endIndex - index > maxLine + 1 { throw .badChunk }
                return nil
            }
            guard lineEnd - index <= maxLine else { throw .badChunk }
            let sizeText = String(decoding: body[index..<lineEnd], as: UTF8.self)
            let sizeField = sizeText.split(separator: ";").first.map { String($0).trimmingSpaces } ?? ""
            guard let size = Int(sizeField, radix: 16), size >= 0 else { throw .badChunk }
            guard out.count + size <= maxBody else { throw .bodyTooLarge(maxBody) }
            let dataStart = lineEnd + 2
            // Chunk framing counts too: by position, so every way of cutting the body agrees.
            guard dataStart - body.startIndex <= maxBody + 64 * 1024 else { throw .bodyTooLarge(maxBody) }
            if size == 0 { return out }  // trailers, if any, are ignored
            guard body.endIndex - dataStart >= size + 2 else { return nil }
            out.append(contentsOf: body[dataStart..<(dataStart + size)])
            index = dataStart + size + 2
        }
    }

    private func findCRLF(_ bytes: ArraySlice<UInt8>, from start: Int, limit: Int) -> Int? {
        var index = start
        while index + 1 < bytes.endIndex && index - start <= limit {
            if bytes[index] == 13 && bytes[index + 1] == 10 { return index }
            index += 1
        }
        return nil
    }
}

extension String {
    var trimmingSpaces: String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }
}
