import Tracker

extension FuzzTarget {
    /// What `tt tracker` reads from a client: the HTTP request head (fed in several
    /// chunkings, capped), the query string, and the announce and scrape parameters.
    public static let trackerServer = FuzzTarget(
        name: "tracker-server", summary: "tt tracker's HTTP request reader, query decoding, announce/scrape parameters",
        exercise: { bytes in try exerciseTrackerServer(bytes) },
        seeds: {
            let url = try! TrackerURL("http://127.0.0.1:6969/announce")
            let request = AnnounceRequest(infoHash: Array(repeating: 0xAB, count: 20), peerID: Array("-TT0100-abcdefghijkl".utf8), port: 6881,
                                          uploaded: 5, downloaded: 6, left: 7, event: .completed, numWant: 20, key: 0xDEADBEEF, trackerID: "t 1")
            let scrape = HTTPTrackerCodec.scrapeTarget(try! TrackerURL("http://127.0.0.1:6969/scrape"),
                                                       [Array(repeating: 1, count: 20), Array(repeating: 0x25, count: 20)])
            return [Array("GET \(HTTPTrackerCodec.announceTarget(url, request)) HTTP/1.1\r\nHost: x\r\n\r\n".utf8),
                    Array("GET \(scrape) HTTP/1.0\r\n\r\n".utf8),
                    Array("POST /announce HTTP/1.1\r\nContent-Length: 0\r\n\r\n".utf8),
                    Array("GET /announce?info_hash=%zz HTTP/1.1\r\n\r\n".utf8)]
        })
}

private let headLimit = 2048

/// What the reader made of a stream: compared as values (formatting an error as text per
/// chunking made this target several times slower).
private enum HeadOutcome: Equatable {
    case request(HTTPRequestLine), needMore, failed(HTTPRequestReader.ReadError)
}

private func readHead(_ bytes: [UInt8], chunks: [Int]) -> HeadOutcome {
    var reader = HTTPRequestReader(maxHead: headLimit)
    do {
        for chunk in Chunkings.split(bytes, chunks) {
            if case .request(let line) = try reader.feed(chunk) { return .request(line) }
        }
        return .needMore
    } catch {
        return .failed(error)
    }
}

func exerciseTrackerServer(_ bytes: [UInt8]) throws {
    let whole = readHead(bytes, chunks: [bytes.count])
    for chunks in Chunkings.all(bytes.count, sizes: Array(bytes.suffix(6))).dropFirst() where readHead(bytes, chunks: chunks) != whole {
        throw FuzzViolation("the request reader's answer depends on how the stream is cut (\(chunks.count) chunks)")
    }
    var reader = HTTPRequestReader(maxHead: headLimit)
    guard case .request(let line)? = try? reader.feed(bytes) else { return }
    if line.target.count > headLimit { throw FuzzViolation("a request target longer than the head limit was accepted") }
    var rereader = HTTPRequestReader(maxHead: headLimit)
    if (try? rereader.feedAll(line.encoded())) != line {
        throw FuzzViolation("request line decode → encode → decode changed it")
    }
    guard let params = HTTPTrackerCodec.parseQuery(line.query) else { return }
    // The pairs written back with our percent-encoding read the same.
    let written = params.map { HTTPTrackerCodec.percentEncode(Array($0.0.utf8)) + "=" + HTTPTrackerCodec.percentEncode($0.1) }.joined(separator: "&")
    guard let again = HTTPTrackerCodec.parseQuery(Array(written.utf8)[...]),
          again.map({ $0.0 }) == params.map({ $0.0 }), again.map({ $0.1 }) == params.map({ $0.1 }) else {
        throw FuzzViolation("query decode → encode → decode changed it")
    }
    if let request = try? HTTPTrackerCodec.announceRequest(fromQuery: params) {
        // What the tracker read, sent by our client, is read the same (the client's own encoder).
        let target = HTTPTrackerCodec.announceTarget(try! TrackerURL("http://127.0.0.1/announce"), request)
        let query = target.split(separator: "?", maxSplits: 1).last.map { Array($0.utf8)[...] } ?? []
        guard let reparsed = HTTPTrackerCodec.parseQuery(query), let back = try? HTTPTrackerCodec.announceRequest(fromQuery: reparsed) else {
            throw FuzzViolation("an announce the tracker accepted does not survive our client's encoder")
        }
        let fields = { (a: AnnounceRequest) in "\(a.infoHash) \(a.peerID) \(a.port) \(a.uploaded) \(a.downloaded) \(a.left) \(a.event) \(String(describing: a.numWant)) \(a.key) \(String(describing: a.trackerID)) \(a.compact)" }
        if fields(back) != fields(request) { throw FuzzViolation("announce query decode → encode → decode changed it") }
    }
    if let hashes = try? HTTPTrackerCodec.scrapeHashes(fromQuery: params), hashes.contains(where: { $0.count != 20 }) {
        throw FuzzViolation("a scrape hash that is not 20 bytes was accepted")
    }
}

private extension HTTPRequestReader {
    mutating func feedAll(_ bytes: [UInt8]) throws -> HTTPRequestLine? {
        if case .request(let line) = try feed(bytes) { return line }
        return nil
    }
}
