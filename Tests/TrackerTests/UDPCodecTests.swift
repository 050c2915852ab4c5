import Testing
@testable import Tracker

@Suite struct UDPCodecTests {
    let hash = [UInt8](repeating: 0xAA, count: 20)

    @Test func connectRequestLayout() {
        #expect(UDPTrackerCodec.connectRequest(transactionID: 0x01020304)
                == [0x00, 0x00, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0, 1, 2, 3, 4])
    }

    @Test func announceRequestLayoutAndRoundTrip() throws {
        let request = AnnounceRequest(infoHash: hash, peerID: [UInt8](repeating: 0x50, count: 20), port: 0x1AE1, uploaded: 3,
                                      downloaded: 1, left: 2, event: .stopped, numWant: nil, key: 0x0A0B0C0D)
        let packet = UDPTrackerCodec.announceRequest(connectionID: 0x1122334455667788, transactionID: 9, request)
        #expect(packet.count == 98)
        #expect(Array(packet[0..<8]) == [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88])
        #expect(Array(packet[8..<16]) == [0, 0, 0, 1, 0, 0, 0, 9])
        #expect(Array(packet[80..<84]) == [0, 0, 0, 3])      // stopped
        #expect(Array(packet[92..<96]) == [0xFF, 0xFF, 0xFF, 0xFF])  // numwant -1
        #expect(Array(packet[96..<98]) == [0x1A, 0xE1])
        guard case .announce(let connectionID, let transactionID, let decoded)? = UDPTrackerCodec.decodeRequest(packet) else {
            Issue.record("not decoded as an announce")
            return
        }
        #expect(connectionID == 0x1122334455667788 && transactionID == 9)
        #expect(decoded.infoHash == hash && decoded.port == 0x1AE1 && decoded.event == .stopped)
        #expect(decoded.uploaded == 3 && decoded.downloaded == 1 && decoded.left == 2 && decoded.numWant == nil && decoded.key == 0x0A0B0C0D)
    }

    @Test func repliesRoundTrip() throws {
        let connect = UDPTrackerCodec.connectReply(transactionID: 5, connectionID: 77)
        #expect(try UDPTrackerCodec.decodeReply(connect, family: .v4) == .connect(transactionID: 5, connectionID: 77))

        let response = AnnounceResponse(interval: 120, complete: 2, incomplete: 3,
                                        peers: [TrackerPeer(ip: "127.0.0.2", port: 1), TrackerPeer(ip: "127.0.0.3", port: 2)])
        let announce = UDPTrackerCodec.announceReply(transactionID: 6, response, family: .v4)
        #expect(announce.count == 20 + 12)
        #expect(try UDPTrackerCodec.decodeReply(announce, family: .v4) == .announce(transactionID: 6, response))

        let v6 = AnnounceResponse(interval: 1, complete: 0, incomplete: 0, peers: [TrackerPeer(ip: "::1", port: 3)])
        let announce6 = UDPTrackerCodec.announceReply(transactionID: 7, v6, family: .v6)
        #expect(announce6.count == 20 + 18)
        #expect(try UDPTrackerCodec.decodeReply(announce6, family: .v6) == .announce(transactionID: 7, v6))

        let scrape = UDPTrackerCodec.scrapeReply(transactionID: 8, [ScrapeEntry(infoHash: hash, complete: 4, incomplete: 5, downloaded: 6)])
        guard case .scrape(8, let counts) = try UDPTrackerCodec.decodeReply(scrape, family: .v4) else {
            Issue.record("not a scrape reply")
            return
        }
        #expect(counts.count == 1 && counts[0].complete == 4 && counts[0].downloaded == 6 && counts[0].incomplete == 5)

        let error = UDPTrackerCodec.errorReply(transactionID: 9, message: "go away")
        #expect(try UDPTrackerCodec.decodeReply(error, family: .v4) == .error(transactionID: 9, message: "go away"))
    }

    @Test func malformedReplies() {
        #expect(throws: UDPTrackerCodec.DecodeError.tooShort(4)) { try UDPTrackerCodec.decodeReply([0, 0, 0, 0], family: .v4) }
        #expect(throws: UDPTrackerCodec.DecodeError.unknownAction(9)) {
            try UDPTrackerCodec.decodeReply([0, 0, 0, 9, 0, 0, 0, 0], family: .v4)
        }
        // opentracker's answer for an info hash off its whitelist: action and transaction only.
        #expect(throws: UDPTrackerCodec.DecodeError.truncatedAnnounce(8)) {
            try UDPTrackerCodec.decodeReply([0, 0, 0, 1, 0, 0, 0, 1], family: .v4)
        }
        var truncated = UDPTrackerCodec.announceReply(transactionID: 1, AnnounceResponse(interval: 1, peers: [TrackerPeer(ip: "1.2.3.4", port: 5)]), family: .v4)
        truncated.removeLast()
        #expect(throws: UDPTrackerCodec.DecodeError.truncatedPeers(5)) { try UDPTrackerCodec.decodeReply(truncated, family: .v4) }
    }

    @Test func serverIgnoresNonRequests() {
        #expect(UDPTrackerCodec.decodeRequest([1, 2, 3]) == nil)
        // A connect without the magic.
        #expect(UDPTrackerCodec.decodeRequest([UInt8](repeating: 0, count: 16)) == nil)
        // An announce that is too short.
        #expect(UDPTrackerCodec.decodeRequest([0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1] + [UInt8](repeating: 0, count: 40)) == nil)
    }
}
