import Bencode
import Testing
@testable import Tracker

/// The server's allocation-free paths give what the plain codecs and state give.
@Suite struct TrackerFastPathTests {
    @Test func queryEdgeCases() {
        func parse(_ text: String) -> [(String, [UInt8])]? { HTTPTrackerCodec.parseQuery(Array(text.utf8)[...]) }
        let params = parse("&a=1&&b=x=y&c&=v&d=%41+%2b&")!
        #expect(params.map(\.0) == ["a", "b", "c", "", "d"])
        #expect(params.map(\.1) == [Array("1".utf8), Array("x=y".utf8), [], Array("v".utf8), Array("A +".utf8)])
        #expect(parse("a=%4") == nil)
        #expect(parse("a=%") == nil)
        #expect(parse("a=%zz") == nil)
        #expect(parse("")?.isEmpty == true)
    }

    @Test func compactAnswerMatchesTheBencodeEncoder() throws {
        let response = AnnounceResponse(interval: 60, minInterval: 10, complete: 3, incomplete: 12_345_678_901, downloaded: 0)
        let v4: [UInt8] = [127, 0, 0, 1, 0x1A, 0xE1]
        let v6 = [UInt8](repeating: 0, count: 15) + [1, 0x1A, 0xE2]
        for six in [[], v6] {
            var pairs: [(String, BencodeValue)] = [
                ("interval", .integer(60)), ("min interval", .integer(10)), ("complete", .integer(3)),
                ("incomplete", .integer(12_345_678_901)), ("downloaded", .integer(0)), ("peers", .string(v4))]
            if !six.isEmpty { pairs.append(("peers6", .string(six))) }
            #expect(HTTPTrackerCodec.encodeCompactAnnounce(response, v4: v4, v6: six) == BencodeValue.dict(pairs).encoded())
        }
        var digits: [UInt8] = []
        HTTPTrackerCodec.append(decimal: -907, to: &digits)
        HTTPTrackerCodec.append(decimal: Int.min, to: &digits)
        #expect(digits == Array("-907\(Int.min)".utf8))
    }

    @Test func rawUDPAnnounceDecodesLikeTheArrayDecoder() {
        let request = AnnounceRequest(infoHash: (1...20).map { UInt8($0) }, peerID: (101...120).map { UInt8($0) }, port: 51413,
                                      left: 77, event: .completed, numWant: 30)
        let bytes = UDPTrackerCodec.announceRequest(connectionID: 0x0102_0304_0506_0708, transactionID: 99, request)
        guard case .announce(let connectionID, let transactionID, let announcement)? =
            bytes.withUnsafeBytes({ UDPTrackerCodec.decodeServerRequest($0) }) else {
            Issue.record("not decoded as an announce")
            return
        }
        #expect(connectionID == 0x0102_0304_0506_0708 && transactionID == 99)
        #expect(announcement.infoHash.bytes == request.infoHash && announcement.peerID.bytes == request.peerID)
        #expect(announcement.port == 51413 && announcement.left == 77 && announcement.event == .completed && announcement.numWant == 30)
        #expect(Array(bytes.prefix(97)).withUnsafeBytes { UDPTrackerCodec.decodeServerRequest($0) } == nil)
    }

    @Test func compactFormsOfBothFamilies() {
        var out = [UInt8](repeating: 0xEE, count: 24)
        let v4 = PeerAddress(ipText: "10.1.2.3", port: 0x1234)!
        let v6 = PeerAddress(ipText: "::1", port: 6881)!
        out.withUnsafeMutableBytes { v4.writeCompact(to: $0, at: 0); v6.writeCompact(to: $0, at: 6) }
        #expect(Array(out[0..<6]) == [10, 1, 2, 3, 0x12, 0x34])
        #expect(Array(out[6..<24]) == [UInt8](repeating: 0, count: 15) + [1, 0x1A, 0xE1])
        var appended: [UInt8] = []
        v6.appendCompact(to: &appended)
        #expect(appended == Array(out[6..<24]))
        #expect(v4.description == "10.1.2.3:4660" && v6.description == "[::1]:6881")
        #expect(v4 != PeerAddress(ipText: "10.1.2.3", port: 1) && PeerAddress(ipText: "not an ip", port: 1) == nil)
    }

    @Test func peersOfBothFamiliesShareASwarm() {
        var state = TrackerState()
        let hash = [UInt8](repeating: 7, count: 20)
        _ = state.announce(AnnounceRequest(infoHash: hash, port: 1, left: 5), ip: "127.0.0.2", now: 0)
        _ = state.announce(AnnounceRequest(infoHash: hash, port: 2, left: 5), ip: "::1", now: 0)
        let third = state.announce(AnnounceRequest(infoHash: hash, port: 3, left: 5), ip: "127.0.0.3", now: 0)
        #expect(Set(third.peers.map(\.addr)) == ["127.0.0.2:1", "[::1]:2"])
        // Not a numeric address: answered, not recorded.
        let named = state.announce(AnnounceRequest(infoHash: hash, port: 4, left: 5), ip: "host.example", now: 0)
        #expect(named.peers.count == 3 && named.incomplete == 3)
    }
}
