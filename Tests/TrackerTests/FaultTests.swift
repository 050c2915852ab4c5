import Bencode
import Foundation
import JSON
import Testing
import TestSupport
@testable import Tracker

/// Hostile trackers: every fault ends in bounded time with an error that names the tracker.
@Suite struct HTTPFaultTests {
    let hash = "0123456789abcdef0123456789abcdef01234567"

    /// Runs `tt announce` against `url` in-process; returns (exit code, stderr).
    func announce(_ url: String, _ extra: [String] = []) -> CLIResult {
        CLI.run(["announce", hash, "--tracker", url] + extra)
    }

    static let good = BencodeValue.dict([("interval", .integer(30)), ("peers", .string([127, 0, 0, 7, 0x1A, 0xE1]))]).encoded()

    @Test(arguments: [
        ("html_error_page", FakeHTTPTracker.response(status: "502 Bad Gateway", body: "<html><head><title>502</title></head><body>bad gateway</body></html>"),
         Int32(76), "HTTP 502"),
        ("html_page_200", FakeHTTPTracker.response(body: "<!DOCTYPE html><html><body>Welcome to nginx!</body></html>"),
         Int32(76), "an HTML page"),
        ("garbage_body", FakeHTTPTracker.response(body: "\u{01}\u{02}this is not bencode at all"), Int32(76), "not bencode"),
        ("truncated_compact_peers", FakeHTTPTracker.response(body: "d8:intervali30e5:peers10:0123456789e"), Int32(76), "truncated compact peer list"),
        ("failure_reason", FakeHTTPTracker.response(body: "d14:failure reason17:torrent not founde"), Int32(76), "\"torrent not found\""),
        ("content_length_too_big", .raw(Array("HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\n".utf8)), Int32(76), "larger than"),
        ("endless_body", .endless, Int32(76), "larger than"),
        ("closes_at_once", .close, Int32(76), "closed before a complete response"),
        ("not_http", .raw(Array("SSH-2.0-OpenSSH_9.2\r\n\r\n".utf8)), Int32(76), "not an HTTP response"),
    ] as [(String, FakeHTTPTracker.Reply, Int32, String)])
    func badTrackerResponses(name: String, reply: FakeHTTPTracker.Reply, code: Int32, message: String) throws {
        let fake = try FakeHTTPTracker { _ in reply }
        defer { fake.stop() }
        let result = announce(fake.url, ["--timeout", "10"])
        #expect(result.code == code, "\(name): \(result.stderr)")
        #expect(result.stderr.contains(message), "\(name): \(result.stderr)")
        #expect(result.stderr.contains(fake.url), "\(name) names the tracker: \(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test func stallingTrackerTimesOut() throws {
        let fake = try FakeHTTPTracker { _ in .stall }
        defer { fake.stop() }
        let result = announce(fake.url, ["--timeout", "1", "--json"])
        #expect(result.code == 75, "\(result.stderr)")
        #expect(result.stderr.contains("timed out") && result.stderr.contains(fake.url))
        let error = try JSONParser().parse(result.stdout)["error"]
        #expect(error?["kind"]?.stringValue == "tracker_timeout")
        #expect(error?["tracker"]?.stringValue == fake.url)
    }

    @Test func refusedConnectionIsUnavailable() {
        let refusing = RefusingPort()
        defer { refusing.close() }
        let port = refusing.port
        let result = announce("http://127.0.0.1:\(port)/announce")
        #expect(result.code == 69, "\(result.stderr)")
        #expect(result.stderr.contains("127.0.0.1:\(port)/announce") && result.stderr.contains("refused"))
    }

    @Test func redirectsAreFollowedAndBounded() throws {
        let fake = try FakeHTTPTracker { target in
            if target.hasPrefix("/announce") {
                return FakeHTTPTracker.response(status: "302 Found", headers: ["Location: /real/announce?" + (target.split(separator: "?").last ?? "")], body: "")
            }
            if target.hasPrefix("/real/announce") { return FakeHTTPTracker.response(body: Self.good) }
            return FakeHTTPTracker.response(status: "301 Moved", headers: ["Location: /loop"], body: "")
        }
        defer { fake.stop() }
        let result = announce(fake.url, ["--json"])
        #expect(result.code == 0, "\(result.stderr)")
        #expect(try JSONParser().parse(result.stdout)["peers"]?.arrayValue?.first?["addr"]?.stringValue == "127.0.0.7:6881")
        #expect(fake.requests.count == 2 && fake.requests[1].contains("info_hash=%01%23Eg%89"))

        let looping = announce("http://127.0.0.1:\(fake.port)/loop")
        #expect(looping.code == 76 && looping.stderr.contains("more than 5 redirects"), "\(looping.stderr)")
    }

    @Test func chunkedAndWarningAnswersWork() throws {
        let body = BencodeValue.dict([("interval", .integer(30)), ("warning message", .string("slow down")),
                                      ("peers", .string([]))]).encoded()
        let hex = String(body.count, radix: 16)
        let fake = try FakeHTTPTracker { _ in
            .raw(Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\(hex)\r\n".utf8) + body + Array("\r\n0\r\n\r\n".utf8))
        }
        defer { fake.stop() }
        let result = announce(fake.url, ["--json"])
        #expect(result.code == 0, "\(result.stderr)")
        #expect(try JSONParser().parse(result.stdout)["warning"]?.stringValue == "slow down")
        #expect(result.stderr.contains("slow down"))
    }

    @Test func scrapeWithoutScrapeURLIsExplained() {
        let result = CLI.run(["scrape", hash, "--tracker", "http://127.0.0.1:1/tracker.php"])
        #expect(result.code == 64 && result.stderr.contains("no scrape URL"), "\(result.stderr)")
    }
}

@Suite struct UDPFaultTests {
    let hash = [UInt8](repeating: 0x11, count: 20)

    /// A well-behaved BEP 15 responder, optionally mangled per packet by `tweak`.
    static func honest(_ packet: [UInt8], peers: [TrackerPeer] = [TrackerPeer(ip: "127.0.0.9", port: 9)]) -> [UInt8]? {
        guard let request = UDPTrackerCodec.decodeRequest(packet) else { return nil }
        switch request {
        case .connect(let transactionID):
            return UDPTrackerCodec.connectReply(transactionID: transactionID, connectionID: 0xC0FFEE)
        case .announce(let connectionID, let transactionID, _):
            guard connectionID == 0xC0FFEE else { return UDPTrackerCodec.errorReply(transactionID: transactionID, message: "bad connection id") }
            return UDPTrackerCodec.announceReply(transactionID: transactionID, AnnounceResponse(interval: 42, complete: 1, incomplete: 2, peers: peers), family: .v4)
        case .scrape(_, let transactionID, let hashes):
            return UDPTrackerCodec.scrapeReply(transactionID: transactionID, hashes.map { ScrapeEntry(infoHash: $0, complete: 3, incomplete: 4, downloaded: 5) })
        }
    }

    func client(timeout: Double = 10, base: Double = 15) -> TrackerClient {
        var options = TrackerClient.Options()
        options.timeout = timeout
        options.udpRetransmitBase = base
        return TrackerClient(options: options)
    }

    @Test func strayRepliesAreIgnored() throws {
        let fake = try FakeUDPTracker { packet, _ in
            guard let good = Self.honest(packet) else { return [] }
            var stray = good
            stray[4] ^= 0xFF  // another transaction
            return [stray, [1, 2, 3], good]
        }
        defer { fake.stop() }
        let response = try client().announce(fake.url, AnnounceRequest(infoHash: hash))
        #expect(response.interval == 42 && response.peers.map(\.addr) == ["127.0.0.9:9"])
        #expect(response.complete == 1 && response.incomplete == 2)
    }

    @Test func onlyWrongTransactionIDsTimeOut() throws {
        let fake = try FakeUDPTracker { packet, _ in
            guard var reply = Self.honest(packet) else { return [] }
            reply[7] ^= 0x01
            return [reply]
        }
        defer { fake.stop() }
        let result = CLI.run(["announce", Hex.encode(hash), "--tracker", fake.url, "--timeout", "1.5", "--udp-retransmit", "0.5"])
        #expect(result.code == 75, "\(result.stderr)")
        #expect(result.stderr.contains(fake.url) && result.stderr.contains("wrong transaction id"), "\(result.stderr)")
        #expect(fake.packets.count >= 2, "retransmitted within the timeout")
    }

    @Test func lostPacketsAreRetransmitted() throws {
        let fake = try FakeUDPTracker { packet, index in
            index < 2 ? [] : Self.honest(packet).map { [$0] } ?? []
        }
        defer { fake.stop() }
        let response = try client(timeout: 20, base: 0.2).announce(fake.url, AnnounceRequest(infoHash: hash))
        #expect(response.interval == 42)
        let packets = fake.packets
        #expect(packets.count == 4)
        #expect(packets[0] == packets[1], "a retransmission repeats the same packet")
    }

    @Test func connectionIDIsReused() throws {
        let fake = try FakeUDPTracker { packet, _ in Self.honest(packet).map { [$0] } ?? [] }
        defer { fake.stop() }
        let client = client()
        _ = try client.announce(fake.url, AnnounceRequest(infoHash: hash))
        _ = try client.announce(fake.url, AnnounceRequest(infoHash: hash, event: .started))
        let entries = try client.scrape(fake.url, infoHashes: [hash, [UInt8](repeating: 2, count: 20)])
        #expect(entries.map(\.complete) == [3, 3] && entries[1].infoHash == [UInt8](repeating: 2, count: 20))
        let connects = fake.packets.filter { UDPTrackerCodec.get32($0, 8) == 0 && $0.count == 16 }
        #expect(connects.count == 1 && fake.packets.count == 4)
    }

    @Test func errorActionQuotesTheMessage() throws {
        let fake = try FakeUDPTracker { packet, _ in
            guard let request = UDPTrackerCodec.decodeRequest(packet) else { return [] }
            if case .connect(let id) = request { return [UDPTrackerCodec.connectReply(transactionID: id, connectionID: 1)] }
            if case .announce(_, let id, _) = request { return [UDPTrackerCodec.errorReply(transactionID: id, message: "info hash not allowed")] }
            return []
        }
        defer { fake.stop() }
        let result = CLI.run(["announce", Hex.encode(hash), "--tracker", fake.url, "--json"])
        #expect(result.code == 76)
        let error = try JSONParser().parse(result.stdout)["error"]
        #expect(error?["failure_reason"]?.stringValue == "info hash not allowed")
        #expect(error?["message"]?.stringValue?.contains(fake.url) == true)
    }

    @Test func truncatedPeerListIsAnError() throws {
        let fake = try FakeUDPTracker { packet, _ in
            guard var reply = Self.honest(packet) else { return [] }
            if UDPTrackerCodec.get32(reply, 0) == 1 { reply.removeLast(2) }
            return [reply]
        }
        defer { fake.stop() }
        #expect(throws: TrackerError.self) { try client().announce(fake.url, AnnounceRequest(infoHash: hash)) }
        do { _ = try client().announce(fake.url, AnnounceRequest(infoHash: hash)) } catch {
            #expect(error.description.contains("truncated compact peer list") && error.description.contains(fake.url))
        }
    }

    @Test func closedPortIsUnreachable() {
        let refusing = RefusingPort(use: .udp)
        defer { refusing.close() }
        let port = refusing.port
        let result = CLI.run(["announce", Hex.encode(hash), "--tracker", "udp://127.0.0.1:\(port)", "--timeout", "5"])
        #expect(result.code == 69, "\(result.stderr)")
        #expect(result.stderr.contains("udp://127.0.0.1:\(port)"))
    }
}
