import Bencode
import Testing
@testable import Tracker

@Suite struct HTTPCodecTests {
    static let hash: [UInt8] = [0x00, 0x20, 0x7E, 0x2E, 0x41, 0xFF, 0x25, 0x26] + Array(repeating: 0xAB, count: 12)
    static let peerID: [UInt8] = Array("-TT0100-".utf8) + [0x00, 0x01, 0x02, 0x41, 0x42, 0xC3, 0xA9, 0x20, 0x2B, 0x3D, 0x26, 0x3F]

    @Test func announceTargetPercentEncodesRawBytes() {
        let url = try! TrackerURL("http://tracker.example:6969/announce")
        let request = AnnounceRequest(infoHash: Self.hash, peerID: Self.peerID, port: 51413, uploaded: 1, downloaded: 2,
                                      left: 3, event: .started, numWant: 25, key: 0xDEADBEEF, trackerID: "a b")
        let target = HTTPTrackerCodec.announceTarget(url, request)
        #expect(target == "/announce?info_hash=%00%20~.A%FF%25%26" + String(repeating: "%AB", count: 12)
                + "&peer_id=-TT0100-%00%01%02AB%C3%A9%20%2B%3D%26%3F&port=51413&uploaded=1&downloaded=2&left=3"
                + "&compact=1&key=DEADBEEF&event=started&numwant=25&trackerid=a%20b")
        // Decoding gives back the exact bytes.
        let query = target.split(separator: "?", maxSplits: 1)[1]
        let params = HTTPTrackerCodec.parseQuery(query)!
        #expect(params.first { $0.0 == "info_hash" }?.1 == Self.hash)
        #expect(params.first { $0.0 == "peer_id" }?.1 == Self.peerID)
    }

    @Test func announceTargetKeepsAnExistingQuery() {
        let url = try! TrackerURL("http://t.example/announce.php?passkey=abc")
        let request = AnnounceRequest(infoHash: Self.hash, numWant: nil)
        let target = HTTPTrackerCodec.announceTarget(url, request)
        #expect(target.hasPrefix("/announce.php?passkey=abc&info_hash="))
        #expect(!target.contains("numwant"))
        #expect(!target.contains("event="))
    }

    @Test func peerIDIsOurs() {
        let id = AnnounceRequest(infoHash: Self.hash).peerID
        #expect(id.count == 20)
        #expect(Array(id.prefix(8)) == Array("-TT0100-".utf8))
    }

    @Test func compactAndIPv6Peers() throws {
        let body = BencodeValue.dict([
            ("interval", .integer(1800)), ("min interval", .integer(900)), ("complete", .integer(3)),
            ("incomplete", .integer(4)), ("tracker id", .string("tid")), ("warning message", .string("be nice")),
            ("peers", .string([127, 0, 0, 1, 0x1A, 0xE1, 10, 0, 0, 2, 0x00, 0x50])),
            ("peers6", .string([0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1, 0x1A, 0xE1])),
        ]).encoded()
        let response = try HTTPTrackerCodec.parseAnnounce(body, tracker: "T")
        #expect(response.interval == 1800 && response.minInterval == 900)
        #expect(response.complete == 3 && response.incomplete == 4)
        #expect(response.trackerID == "tid" && response.warning == "be nice")
        #expect(response.peers.map(\.addr) == ["127.0.0.1:6881", "10.0.0.2:80", "[2001:db8::1]:6881"])
    }

    @Test func dictionaryPeers() throws {
        let body = BencodeValue.dict([
            ("interval", .integer(60)),
            ("peers", .list([.dict([("ip", .string("::1")), ("port", .integer(6881)), ("peer id", .string("-XX0000-abcdefghijkl"))]),
                             .dict([("ip", .string("192.168.1.9")), ("port", .integer(1))])])),
        ]).encoded()
        let response = try HTTPTrackerCodec.parseAnnounce(body, tracker: "T")
        #expect(response.peers.map(\.addr) == ["[::1]:6881", "192.168.1.9:1"])
        #expect(response.peers[0].peerID == Array("-XX0000-abcdefghijkl".utf8))
    }

    /// Bad bodies, each named after its defect, and the error each must give.
    @Test(arguments: [
        ("failure_reason", "d14:failure reason11:not allowede", "refused: \"not allowed\""),
        ("truncated_compact_peers", "d8:intervali60e5:peers7:abcdefge", "truncated compact peer list"),
        ("truncated_peers6", "d8:intervali60e6:peers65:abcdee", "truncated compact peers6"),
        ("html_page", "<html><body><h1>502 Bad Gateway</h1></body></html>", "an HTML page"),
        ("garbage", "hello, world", "not bencode"),
        ("not_a_dictionary", "li1ei2ee", "not a bencoded dictionary"),
        ("empty_dictionary", "de", "without peers, interval or failure reason"),
        ("peer_without_port", "d8:intervali60e5:peersld2:ip9:127.0.0.1eee", "without a valid ip and port"),
    ])
    func badBodies(name: String, body: String, expected: String) {
        #expect(throws: TrackerError.self, "\(name)") { try HTTPTrackerCodec.parseAnnounce(Array(body.utf8), tracker: "http://t/announce") }
        do {
            _ = try HTTPTrackerCodec.parseAnnounce(Array(body.utf8), tracker: "http://t/announce")
        } catch {
            #expect(error.description.contains(expected), "\(name): \(error)")
            #expect(error.description.contains("http://t/announce"), "\(name) names the tracker")
        }
    }

    @Test func scrapeBody() throws {
        let a = [UInt8](repeating: 1, count: 20), b = [UInt8](repeating: 2, count: 20)
        let body = HTTPTrackerCodec.encodeScrape([ScrapeEntry(infoHash: a, complete: 5, incomplete: 6, downloaded: 7),
                                                  ScrapeEntry(infoHash: b, complete: 0, incomplete: 1, downloaded: 2)])
        let entries = try HTTPTrackerCodec.parseScrape(body, tracker: "T")
        #expect(entries == [ScrapeEntry(infoHash: a, complete: 5, incomplete: 6, downloaded: 7),
                            ScrapeEntry(infoHash: b, complete: 0, incomplete: 1, downloaded: 2)])
        #expect(throws: TrackerError.self) { try HTTPTrackerCodec.parseScrape(Array("d5:filesi1ee".utf8), tracker: "T") }
    }

    @Test func scrapeTargetCarriesEveryHash() {
        let url = try! TrackerURL("http://t.example/announce").scrapeURL!
        let target = HTTPTrackerCodec.scrapeTarget(url, [[UInt8](repeating: 0x41, count: 20), [UInt8](repeating: 0x00, count: 20)])
        #expect(target == "/scrape?info_hash=" + String(repeating: "A", count: 20) + "&info_hash=" + String(repeating: "%00", count: 20))
    }

    @Test func serverEncodingRoundTrips() throws {
        let response = AnnounceResponse(interval: 60, minInterval: 10, complete: 1, incomplete: 2, downloaded: 3,
                                        peers: [TrackerPeer(ip: "127.0.0.5", port: 9), TrackerPeer(ip: "::1", port: 10)])
        #expect(try HTTPTrackerCodec.parseAnnounce(HTTPTrackerCodec.encodeAnnounce(response, compact: true), tracker: "T") == response)
        let dictionary = try HTTPTrackerCodec.parseAnnounce(HTTPTrackerCodec.encodeAnnounce(response, compact: false), tracker: "T")
        #expect(dictionary.peers.map(\.addr) == ["127.0.0.5:9", "[::1]:10"])
    }
}

@Suite struct TrackerURLTests {
    @Test(arguments: [
        ("http://t.example/announce", "http://t.example/scrape"),
        ("http://t.example:8080/x/announce.php?k=1", "http://t.example:8080/x/scrape.php?k=1"),
        ("http://t.example/announce?passkey=z", "http://t.example/scrape?passkey=z"),
        ("http://t.example/a", nil),
        ("http://t.example/announce/x", nil),
        ("http://t.example/x%064announce", nil),
        ("udp://t.example:6969", "udp://t.example:6969"),
        ("udp://t.example:6969/announce", "udp://t.example:6969/announce"),
    ] as [(String, String?)])
    func scrapeURLRule(announce: String, scrape: String?) throws {
        #expect(try TrackerURL(announce).scrapeURL?.original == scrape)
    }

    @Test func parsesHostsAndPorts() throws {
        let v6 = try TrackerURL("udp://[::1]:6969")
        #expect(v6.host == "::1" && v6.port == 6969 && v6.scheme == .udp)
        let plain = try TrackerURL("http://example.org")
        #expect(plain.port == 80 && plain.target == "/" && plain.hostHeader == "example.org")
        let secure = try TrackerURL("HTTPS://example.org/announce#frag")
        #expect(secure.port == 443 && secure.scheme == .https && secure.target == "/announce")
        #expect(try TrackerURL("http://[::1]:81/a").hostHeader == "[::1]:81")
    }

    @Test(arguments: ["ftp://x/announce", "udp://host.example/announce", "http://:80/", "no-scheme", "http://h:99999/", "http://[::1/"])
    func rejectsBadURLs(_ text: String) {
        #expect(throws: TrackerError.self) { try TrackerURL(text) }
    }

    @Test func resolvesRedirects() throws {
        let base = try TrackerURL("http://a.example:81/x/announce?q=1")
        #expect(try base.resolving("/other?z").original == "http://a.example:81/other?z")
        #expect(try base.resolving("y?z").target == "/x/y?z")
        #expect(try base.resolving("https://b.example/announce").scheme == .https)
    }
}

@Suite struct CompactPeerTests {
    @Test(arguments: [
        ("::1", "::1"), ("2001:db8::1", "2001:db8::1"), ("::", "::"), ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
        ("::ffff:127.0.0.1", "::ffff:127.0.0.1"), ("fe80::1%eth0", "fe80::1"), ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
    ])
    func ipv6TextRoundTrips(input: String, canonical: String) {
        let bytes = IPText.parseV6(input)
        #expect(bytes?.count == 16)
        #expect(bytes.map(IPText.v6) == canonical)
    }

    @Test(arguments: ["1.2.3", "1.2.3.256", "a.b.c.d", "1..2.3", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::"])
    func rejectsBadAddresses(_ text: String) {
        #expect(IPText.parseV4(text) == nil)
        #expect(IPText.parseV6(text) == nil)
    }

    @Test func truncatedListsAreRejected() {
        #expect(CompactPeers.decode([1, 2, 3, 4, 5, 6, 7], family: .v4) == nil)
        #expect(CompactPeers.decode([UInt8](repeating: 0, count: 17), family: .v6) == nil)
        #expect(CompactPeers.decode([], family: .v4) == [])
    }
}
