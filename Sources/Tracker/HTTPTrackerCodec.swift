import Bencode

/// BEP 3 / 23 / 7 / 48 over HTTP: query strings and bencoded bodies. No I/O.
public enum HTTPTrackerCodec {
    // MARK: - Client side

    /// The request target for an announce: the tracker's path and query plus our parameters.
    public static func announceTarget(_ url: TrackerURL, _ request: AnnounceRequest) -> String {
        var query: [(String, String)] = [
            ("info_hash", percentEncode(request.infoHash)),
            ("peer_id", percentEncode(request.peerID)),
            ("port", String(request.port)),
            ("uploaded", String(request.uploaded)),
            ("downloaded", String(request.downloaded)),
            ("left", String(request.left)),
            ("compact", request.compact ? "1" : "0"),
            ("key", hex8(request.key)),
        ]
        if request.event != .none { query.append(("event", request.event.rawValue)) }
        if let numWant = request.numWant { query.append(("numwant", String(numWant))) }
        if let trackerID = request.trackerID { query.append(("trackerid", percentEncode(Array(trackerID.utf8)))) }
        return append(query, to: url.target)
    }

    /// The request target for a scrape of several info hashes at once.
    public static func scrapeTarget(_ scrapeURL: TrackerURL, _ infoHashes: [[UInt8]]) -> String {
        append(infoHashes.map { ("info_hash", percentEncode($0)) }, to: scrapeURL.target)
    }

    static func append(_ query: [(String, String)], to target: String) -> String {
        let joined = query.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        if !target.contains("?") { return target + "?" + joined }
        return target + (target.hasSuffix("?") || target.hasSuffix("&") ? "" : "&") + joined
    }

    static func hex8(_ value: UInt32) -> String {
        let text = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: 8 - text.count) + text
    }

    /// Percent-encodes raw bytes (info hash, peer id) for the query string.
    public static func percentEncode(_ bytes: [UInt8]) -> String { PercentEncoding.encode(bytes) }

    /// Decodes `%XX` and `+`; nil on a malformed escape.
    public static func percentDecode<C: Collection>(_ text: C) -> [UInt8]? where C.Element == UInt8 { PercentEncoding.decode(text) }

    /// Parses an announce body. `tracker` names the tracker in errors.
    public static func parseAnnounce(_ body: [UInt8], tracker: String) throws(TrackerError) -> AnnounceResponse {
        let root = try decodeDictionary(body, tracker: tracker)
        if let reason = root["failure reason"] {
            throw .failure(tracker, reason.textValue ?? TrackerError.excerpt(reason.bytesValue ?? []))
        }
        var response = AnnounceResponse()
        response.interval = int(root["interval"])
        response.minInterval = int(root["min interval"])
        response.complete = int(root["complete"])
        response.incomplete = int(root["incomplete"])
        response.downloaded = int(root["downloaded"])
        response.trackerID = root["tracker id"]?.textValue
        response.warning = root["warning message"]?.textValue
        guard root["peers"] != nil || root["peers6"] != nil || response.interval != nil else {
            throw .badResponse(tracker, "a bencoded dictionary without peers, interval or failure reason: \(TrackerError.excerpt(body))")
        }
        switch root["peers"] {
        case .string(let bytes)?:
            guard let peers = CompactPeers.decode(bytes, family: .v4) else {
                throw .badResponse(tracker, "truncated compact peer list: \(bytes.count) bytes is not a multiple of 6")
            }
            response.peers += peers
        case .list(let items)?:
            for item in items {
                guard let ip = item["ip"]?.textValue, let port = item["port"]?.integerValue, (0...65535).contains(port) else {
                    throw .badResponse(tracker, "a dictionary peer without a valid ip and port")
                }
                response.peers.append(TrackerPeer(ip: ip, port: UInt16(port), peerID: item["peer id"]?.bytesValue))
            }
        case nil:
            break
        default:
            throw .badResponse(tracker, "'peers' is neither a string nor a list")
        }
        if let peers6 = root["peers6"] {
            guard let bytes = peers6.bytesValue, let peers = CompactPeers.decode(bytes, family: .v6) else {
                throw .badResponse(tracker, "truncated compact peers6 list: not a multiple of 18 bytes")
            }
            response.peers += peers
        }
        return response
    }

    /// Parses a scrape body: `files` maps raw 20-byte info hashes to counts.
    public static func parseScrape(_ body: [UInt8], tracker: String) throws(TrackerError) -> [ScrapeEntry] {
        let root = try decodeDictionary(body, tracker: tracker)
        if let reason = root["failure reason"] {
            throw .failure(tracker, reason.textValue ?? TrackerError.excerpt(reason.bytesValue ?? []))
        }
        guard let files = root["files"]?.dictionaryEntries else {
            throw .badResponse(tracker, "a scrape response without 'files': \(TrackerError.excerpt(body))")
        }
        return files.map { entry in
            ScrapeEntry(infoHash: entry.key, complete: int(entry.value["complete"]) ?? 0,
                        incomplete: int(entry.value["incomplete"]) ?? 0, downloaded: int(entry.value["downloaded"]) ?? 0,
                        name: entry.value["name"]?.textValue)
        }
    }

    static func decodeDictionary(_ body: [UInt8], tracker: String) throws(TrackerError) -> BencodeValue {
        let document: BencodeDocument
        do {
            document = try BencodeDecoder(strictness: .lenient, maxDepth: 32).decode(body)
        } catch {
            let kind = looksLikeHTML(body) ? "an HTML page, not bencode" : "not bencode (\(error.reasonText) at offset \(error.offset))"
            throw .badResponse(tracker, "\(kind): \(TrackerError.excerpt(body))")
        }
        guard case .dictionary = document.root else {
            throw .badResponse(tracker, "not a bencoded dictionary: \(TrackerError.excerpt(body))")
        }
        return document.root
    }

    static func looksLikeHTML(_ body: [UInt8]) -> Bool {
        let head = String(decoding: body.prefix(200), as: UTF8.self).lowercased()
        return head.contains("<html") || head.contains("<!doctype") || head.contains("<body") || head.contains("<h1")
    }

    static func int(_ value: BencodeValue?) -> Int? {
        guard let number = value?.integerValue, let small = Int(exactly: number) else { return nil }
        return small
    }

    // MARK: - Server side

    /// Splits a query string into (name, raw value bytes) pairs; nil on a malformed escape.
    public static func parseQuery(_ query: Substring) -> [(String, [UInt8])]? { parseQuery(Array(query.utf8)[...]) }

    /// Splits raw query bytes into (name, raw value bytes) pairs; nil on a malformed escape.
    /// One pass over the bytes with a decoder specialised to them: the server runs this per request.
    public static func parseQuery(_ query: ArraySlice<UInt8>) -> [(String, [UInt8])]? {
        var out: [(String, [UInt8])] = []
        out.reserveCapacity(12)
        var start = query.startIndex
        while start < query.endIndex {
            let end = query[start...].firstIndex(of: UInt8(ascii: "&")) ?? query.endIndex
            if end > start {
                let pair = query[start..<end]
                let equals = pair.firstIndex(of: UInt8(ascii: "=")) ?? end
                guard let name = decodeComponent(query[start..<equals]),
                      let value = equals < end ? decodeComponent(query[(equals + 1)..<end]) : [] else { return nil }
                out.append((String(decoding: name, as: UTF8.self), value))
            }
            start = end < query.endIndex ? end + 1 : end
        }
        return out
    }

    /// `%XX` and `+` decoded (as `percentDecode`); nil on a malformed escape.
    static func decodeComponent(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var index = text.startIndex
        while index < text.endIndex {
            let byte = text[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < text.endIndex, let high = Hex.nibble(text[index + 1]), let low = Hex.nibble(text[index + 2]) else { return nil }
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
                index += 1
            }
        }
        return out
    }

    /// Why a query was refused; the reason goes back to the client as a failure reason.
    public struct QueryError: Error, Equatable, Sendable {
        public var reason: String
        init(_ reason: String) { self.reason = reason }
    }

    /// An announce as our tracker reads it from query parameters (the inverse of `announceTarget`).
    public static func announceRequest(fromQuery params: [(String, [UInt8])]) throws(QueryError) -> AnnounceRequest {
        func value(_ name: String) -> [UInt8]? { params.first { $0.0 == name }?.1 }
        func text(_ name: String) -> String? { value(name).flatMap { String(validatingUTF8Bytes: $0) } }
        guard let infoHash = value("info_hash"), infoHash.count == 20 else {
            throw QueryError("missing or malformed info_hash (20 bytes needed)")
        }
        guard let peerID = value("peer_id"), peerID.count == 20 else {
            throw QueryError("missing or malformed peer_id (20 bytes needed)")
        }
        guard let port = text("port").flatMap(UInt16.init) else { throw QueryError("missing or malformed port") }
        guard let event = AnnounceRequest.Event(rawValue: text("event") ?? "") else {
            throw QueryError("unknown event '\(TrackerError.excerpt(value("event") ?? []))'")
        }
        return AnnounceRequest(
            infoHash: infoHash, peerID: peerID, port: port,
            uploaded: text("uploaded").flatMap { Int64($0) } ?? 0, downloaded: text("downloaded").flatMap { Int64($0) } ?? 0,
            left: text("left").flatMap { Int64($0) } ?? 0, event: event, numWant: text("numwant").flatMap { Int($0) },
            key: text("key").flatMap { UInt32($0, radix: 16) } ?? 0, trackerID: text("trackerid"),
            compact: text("compact") != "0")
    }

    /// The info hashes of a scrape query: at least one, each 20 bytes.
    public static func scrapeHashes(fromQuery params: [(String, [UInt8])]) throws(QueryError) -> [[UInt8]] {
        let hashes = params.filter { $0.0 == "info_hash" }.map(\.1)
        guard !hashes.isEmpty, hashes.allSatisfy({ $0.count == 20 }) else {
            throw QueryError("scrape needs info_hash parameters of 20 bytes")
        }
        return hashes
    }

    /// An announce answer as our tracker sends it.
    public static func encodeAnnounce(_ response: AnnounceResponse, compact: Bool) -> [UInt8] {
        var pairs: [(String, BencodeValue)] = []
        if let interval = response.interval { pairs.append(("interval", .integer(Int64(interval)))) }
        if let minInterval = response.minInterval { pairs.append(("min interval", .integer(Int64(minInterval)))) }
        if let complete = response.complete { pairs.append(("complete", .integer(Int64(complete)))) }
        if let incomplete = response.incomplete { pairs.append(("incomplete", .integer(Int64(incomplete)))) }
        if let downloaded = response.downloaded { pairs.append(("downloaded", .integer(Int64(downloaded)))) }
        if let trackerID = response.trackerID { pairs.append(("tracker id", .string(trackerID))) }
        if let warning = response.warning { pairs.append(("warning message", .string(warning))) }
        if compact {
            pairs.append(("peers", .string(CompactPeers.encode(response.peers, family: .v4))))
            let v6 = CompactPeers.encode(response.peers, family: .v6)
            if !v6.isEmpty { pairs.append(("peers6", .string(v6))) }
        } else {
            pairs.append(("peers", .list(response.peers.map { peer in
                var fields: [(String, BencodeValue)] = [("ip", .string(peer.ip)), ("port", .integer(Int64(peer.port)))]
                if let id = peer.peerID { fields.append(("peer id", .string(id))) }
                return .dict(fields)
            })))
        }
        return BencodeValue.dict(pairs).encoded()
    }

    /// An announce answer from ready-made compact peer bytes (our tracker's fast path).
    static func encodeCompactAnnounce(_ response: AnnounceResponse, v4: [UInt8], v6: [UInt8]) -> [UInt8] {
        // Written straight out, keys in bencode's sorted order (the server sends one per request).
        var out: [UInt8] = []
        out.reserveCapacity(128 + v4.count + v6.count)
        func key(_ name: StaticString) {
            append(decimal: name.utf8CodeUnitCount, to: &out)
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        }
        func integer(_ name: StaticString, _ value: Int?) {
            guard let value else { return }
            key(name)
            out.append(UInt8(ascii: "i"))
            append(decimal: value, to: &out)
            out.append(UInt8(ascii: "e"))
        }
        func string(_ name: StaticString, _ value: [UInt8]) {
            key(name)
            append(decimal: value.count, to: &out)
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: value)
        }
        out.append(UInt8(ascii: "d"))
        integer("complete", response.complete)
        integer("downloaded", response.downloaded)
        integer("incomplete", response.incomplete)
        integer("interval", response.interval ?? 1800)
        integer("min interval", response.minInterval)
        string("peers", v4)
        if !v6.isEmpty { string("peers6", v6) }
        out.append(UInt8(ascii: "e"))
        return out
    }

    /// Decimal digits of `value` (with a leading `-` when negative).
    static func append(decimal value: Int, to out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // room for 20 digits
        withUnsafeMutableBytes(of: &digits) { buffer in
            var index = buffer.count
            repeat {
                index -= 1
                buffer[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            out.append(contentsOf: buffer[index...])
        }
    }

    public static func encodeFailure(_ reason: String) -> [UInt8] {
        BencodeValue.dict([("failure reason", .string(reason))]).encoded()
    }

    public static func encodeScrape(_ entries: [ScrapeEntry]) -> [UInt8] {
        BencodeValue.dict([("files", .dictionary(entries.map { entry in
            BencodeEntry(key: entry.infoHash, value: .dict([
                ("complete", .integer(Int64(entry.complete))),
                ("incomplete", .integer(Int64(entry.incomplete))),
                ("downloaded", .integer(Int64(entry.downloaded))),
            ]))
        }))]).encoded()
    }
}
