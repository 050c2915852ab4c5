import Testing
@testable import Tracker

@Suite struct HTTPResponseParserTests {
    /// Feeds `bytes` in pieces of `size` (0: all at once), then end of stream; returns the result.
    func parse(_ text: String, split size: Int, maxBody: Int = 1 << 20) throws(HTTPResponseParser.ParseError) -> HTTPResponse? {
        let bytes = Array(text.utf8)
        var parser = HTTPResponseParser(maxBody: maxBody)
        let step = size == 0 ? max(bytes.count, 1) : size
        var offset = 0
        while offset < bytes.count {
            if case .complete(let response) = try parser.feed(bytes[offset..<min(offset + step, bytes.count)]) { return response }
            offset += step
        }
        if case .complete(let response) = try parser.feed([UInt8](), endOfStream: true) { return response }
        return nil
    }

    static let responses: [(String, String)] = [
        ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  b \r\n\r\nhello", "hello"),
        ("HTTP/1.0 200 OK\r\n\r\nuntil close", "until close"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n", "abcde"),
        ("HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnopEXTRA", "nop"),
    ]

    @Test(arguments: [0, 1, 2, 7])
    func everySplitGivesTheSameResponse(split: Int) throws {
        for (text, body) in Self.responses {
            let response = try parse(text, split: split)
            #expect(response?.body == Array(body.utf8), "split \(split): \(text.debugDescription)")
        }
        let first = try parse(Self.responses[0].0, split: split)
        #expect(first?.status == 200 && first?.reason == "OK" && first?.header("x-a") == "b")
    }

    @Test func bodyCapIsEnforcedBeforeBuffering() {
        #expect(throws: HTTPResponseParser.ParseError.bodyTooLarge(10)) {
            try parse("HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n", split: 0, maxBody: 10)
        }
        #expect(throws: HTTPResponseParser.ParseError.bodyTooLarge(10)) {
            try parse("HTTP/1.1 200 OK\r\n\r\n" + String(repeating: "x", count: 11), split: 3, maxBody: 10)
        }
        #expect(throws: HTTPResponseParser.ParseError.bodyTooLarge(10)) {
            try parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nff\r\n", split: 0, maxBody: 10)
        }
    }

    @Test func malformedResponses() {
        #expect(throws: HTTPResponseParser.ParseError.self) { try parse("garbage that is not http\r\n\r\n", split: 1) }
        #expect(throws: HTTPResponseParser.ParseError.truncated) { try parse("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", split: 0) }
        #expect(throws: HTTPResponseParser.ParseError.truncated) { try parse("", split: 0) }
        #expect(throws: HTTPResponseParser.ParseError.badChunk) {
            try parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", split: 0)
        }
        #expect(throws: HTTPResponseParser.ParseError.headersTooLarge) {
            try parse("HTTP/1.1 200 OK\r\n" + String(repeating: "X-Long: aaaaaaaaaa\r\n", count: 2000), split: 0)
        }
    }
}

@Suite struct TrackerStateTests {
    func request(_ port: UInt16, left: Int64 = 100, event: AnnounceRequest.Event = .none, hash: UInt8 = 1) -> AnnounceRequest {
        AnnounceRequest(infoHash: [UInt8](repeating: hash, count: 20), port: port, left: left, event: event)
    }

    @Test func peersSeeEachOtherButNotThemselves() {
        var state = TrackerState()
        let first = state.announce(request(1, event: .started), ip: "127.0.0.2", now: 0)
        #expect(first.peers.isEmpty && first.incomplete == 1 && first.complete == 0)
        let second = state.announce(request(2, left: 0), ip: "127.0.0.3", now: 1)
        #expect(second.peers.map(\.addr) == ["127.0.0.2:1"])
        #expect(second.complete == 1 && second.incomplete == 1)
        let again = state.announce(request(1), ip: "127.0.0.2", now: 2)
        #expect(again.peers.map(\.addr) == ["127.0.0.3:2"])
        #expect(state.peerCount == 2 && state.torrentCount == 1)
    }

    @Test func seedersAreNotSentSeeders() {
        var state = TrackerState()
        _ = state.announce(request(1, left: 0), ip: "127.0.0.2", now: 0)
        _ = state.announce(request(3, left: 5), ip: "127.0.0.4", now: 0)
        let seeder = state.announce(request(2, left: 0), ip: "127.0.0.3", now: 0)
        #expect(seeder.peers.map(\.addr) == ["127.0.0.4:3"])
    }

    @Test func stoppedCompletedAndScrape() {
        var state = TrackerState()
        _ = state.announce(request(1, event: .started), ip: "127.0.0.2", now: 0)
        _ = state.announce(request(1, left: 0, event: .completed), ip: "127.0.0.2", now: 1)
        _ = state.announce(request(2), ip: "127.0.0.3", now: 1)
        let other = [UInt8](repeating: 9, count: 20)
        let counts = state.scrape([[UInt8](repeating: 1, count: 20), other], now: 2)
        #expect(counts[0] == ScrapeEntry(infoHash: [UInt8](repeating: 1, count: 20), complete: 1, incomplete: 1, downloaded: 1))
        #expect(counts[1] == ScrapeEntry(infoHash: other, complete: 0, incomplete: 0, downloaded: 0))
        let stopped = state.announce(request(2, event: .stopped), ip: "127.0.0.3", now: 3)
        #expect(stopped.peers.isEmpty && stopped.incomplete == 0 && stopped.complete == 1)
    }

    @Test func silentPeersExpire() {
        var config = TrackerState.Config()
        config.peerTTL = 100
        var state = TrackerState(config: config)
        _ = state.announce(request(1), ip: "127.0.0.2", now: 0)
        _ = state.announce(request(2, hash: 2), ip: "127.0.0.2", now: 0)
        #expect(state.announce(request(3), ip: "127.0.0.3", now: 50).peers.count == 1)
        #expect(state.announce(request(3), ip: "127.0.0.3", now: 101).peers.isEmpty)
        state.expire(now: 1000)
        #expect(state.peerCount == 0 && state.torrentCount == 0)
    }

    @Test func numwantIsCapped() {
        var config = TrackerState.Config()
        config.maxNumWant = 3
        var state = TrackerState(config: config)
        for port in 1...10 { _ = state.announce(request(UInt16(port)), ip: "127.0.0.2", now: 0) }
        var asking = request(99)
        asking.numWant = 1000
        #expect(state.announce(asking, ip: "127.0.0.9", now: 0).peers.count == 3)
        asking.numWant = 0
        #expect(state.announce(asking, ip: "127.0.0.9", now: 0).peers.isEmpty)
    }
}

@Suite struct TrackerTiersTests {
    @Test func triesTiersInOrderAndPromotesTheOneThatAnswered() {
        var tiers = TrackerTiers([["a1", "a2"], ["b1"]], shuffle: false)
        var tried: [String] = []
        let result = tiers.first { (url: String) throws(TrackerError) -> String in
            tried.append(url)
            if url == "a2" { return "ok" }
            throw .timeout(url, "no")
        }
        #expect(tried == ["a1", "a2"])
        #expect((try? result.get().tracker) == "a2")
        #expect(tiers.tiers == [["a2", "a1"], ["b1"]])

        var failing = TrackerTiers([["x"], ["y", "z"]], shuffle: false)
        let none = failing.first { (url: String) throws(TrackerError) -> Int in throw .unreachable(url, "down") }
        guard case .failure(let errors) = none else { Issue.record("expected failure"); return }
        #expect(errors.errors.map(\.tracker) == ["x", "y", "z"])
    }

    @Test func shuffleKeepsTiersApart() {
        let tiers = TrackerTiers([["a", "b", "c"], [], ["d"]])
        #expect(tiers.tiers.count == 2)
        #expect(Set(tiers.tiers[0]) == ["a", "b", "c"] && tiers.tiers[1] == ["d"])
    }
}
