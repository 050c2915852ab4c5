import Tracker

extension FuzzTarget {
    /// HTTP tracker answers: the response parser (status line, headers, Content-Length,
    /// chunked bodies, fed in several chunkings) and the announce and scrape body codecs.
    ///
    /// The first byte picks: odd, the rest is a whole HTTP response; even, a body alone.
    public static let httpTracker = FuzzTarget(
        name: "http-tracker", summary: "HTTP responses (incl. chunked, bad headers), announce and scrape bodies",
        exercise: { bytes in try exerciseHTTPTracker(bytes) },
        seeds: {
            let announce = HTTPTrackerCodec.encodeAnnounce(AnnounceResponse(
                interval: 1800, minInterval: 60, complete: 2, incomplete: 1, trackerID: "x", warning: "w",
                peers: [TrackerPeer(ip: "127.0.0.1", port: 6881), TrackerPeer(ip: "::1", port: 6882)]), compact: true)
            let list = HTTPTrackerCodec.encodeAnnounce(AnnounceResponse(
                interval: 60, peers: [TrackerPeer(ip: "127.0.0.2", port: 1, peerID: Array(repeating: 65, count: 20))]), compact: false)
            let scrape = HTTPTrackerCodec.encodeScrape([ScrapeEntry(infoHash: Array(repeating: 1, count: 20), complete: 1, incomplete: 2, downloaded: 3)])
            func response(_ body: [UInt8]) -> [UInt8] {
                Array("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body
            }
            let chunked = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nd8:in\r\nb;ext=1\r\ntervali60ee\r\n0\r\n\r\n".utf8)
            return [[1] + response(announce), [1] + response(list), [1] + response(scrape), [1] + chunked,
                    [1] + Array("HTTP/1.0 404 Not Found\r\n\r\nnope".utf8), [0] + announce, [0] + list, [2] + scrape,
                    [0] + HTTPTrackerCodec.encodeFailure("not registered")]
        })
}

private let responseLimit = 64 * 1024

/// Feeds a response in `chunks`, then end of stream: the response or the error's case.
private func parseResponse(_ bytes: [UInt8], chunks: [Int]) -> Result<HTTPResponse?, FuzzViolation> {
    var parser = HTTPResponseParser(maxBody: responseLimit, maxHeader: 4096)
    do {
        for chunk in Chunkings.split(bytes, chunks) {
            if case .complete(let response) = try parser.feed(chunk) { return .success(response) }
        }
        if case .complete(let response) = try parser.feed([], endOfStream: true) { return .success(response) }
        return .success(nil)
    } catch {
        return .failure(FuzzViolation(errorKind(error)))
    }
}

func exerciseHTTPTracker(_ bytes: [UInt8]) throws {
    guard let mode = bytes.first else { return }
    var body = Array(bytes.dropFirst())
    if mode & 1 == 1 {
        let whole = parseResponse(body, chunks: [body.count])
        for chunks in Chunkings.all(body.count, sizes: Array(body.suffix(6))).dropFirst() {
            let other = parseResponse(body, chunks: chunks)
            switch (whole, other) {
            case (.success(let a), .success(let b)) where a == b: continue
            case (.failure(let a), .failure(let b)) where a.description == b.description: continue
            default: throw FuzzViolation("the HTTP response parser's answer depends on how the stream is cut (\(chunks.count) chunks)")
            }
        }
        guard case .success(let response?) = whole else { return }
        if response.body.count > responseLimit { throw FuzzViolation("a body over maxBody was accepted") }
        body = response.body
    }
    if let announce = try? HTTPTrackerCodec.parseAnnounce(body, tracker: "fuzz") {
        // Written back (as the non-compact list, which keeps every peer's text), it reads the same.
        let again = try? HTTPTrackerCodec.parseAnnounce(HTTPTrackerCodec.encodeAnnounce(announce, compact: false), tracker: "fuzz")
        if again != announce { throw FuzzViolation("announce decode → encode → decode changed it") }
    }
    if let entries = try? HTTPTrackerCodec.parseScrape(body, tracker: "fuzz") {
        // Our encoder writes the files dictionary canonically (keys sorted), so compare as sorted lists.
        func sorted(_ list: [ScrapeEntry]) -> [String] {
            list.map { "\($0.infoHash) \($0.complete) \($0.incomplete) \($0.downloaded)" }.sorted()
        }
        let again = try? HTTPTrackerCodec.parseScrape(HTTPTrackerCodec.encodeScrape(entries), tracker: "fuzz")
        if again.map(sorted) != sorted(entries) {
            throw FuzzViolation("scrape decode → encode → decode changed it: \(sorted(entries)) became \(again.map(sorted) ?? [])")
        }
    }
}
