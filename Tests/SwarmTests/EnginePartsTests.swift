import Metainfo
import Net
import Testing
import Tracker
@testable import Swarm

/// The engine's pure parts, with values alone: the roster, the request pipeline, the announce schedule.
@Suite struct PeerRosterTests {
    let a = SocketAddress(ip: "127.0.0.2", port: 6881)!
    let b = SocketAddress(ip: "127.0.0.3", port: 6881)!

    @Test func backsOffThenGivesUpAfterThreeFailures() {
        var roster = PeerRoster()
        let added = roster.add(a, source: .tracker), again = roster.add(a, source: .dht)
        #expect(added && !again)  // known already: its first source stays
        #expect(roster.source(of: a) == .tracker)
        #expect(roster.ready(now: 0, connected: []) == [a])
        roster.dialling(a)
        #expect(roster.ready(now: 0, connected: []).isEmpty)  // being dialled
        roster.failed(a, error: "refused", now: 0)
        #expect(roster.ready(now: 1, connected: []).isEmpty && roster.ready(now: 2, connected: []) == [a])
        roster.dialling(a); roster.failed(a, error: "refused", now: 2)
        #expect(roster.ready(now: 5, connected: []).isEmpty && roster.ready(now: 6, connected: []) == [a])
        roster.dialling(a); roster.failed(a, error: "refused", now: 6)
        #expect(roster.ready(now: 1000, connected: []).isEmpty && !roster.hasRetryable)
        #expect(roster.lastErrors == ["127.0.0.2:6881: refused"])
    }

    @Test func aHandshakeForgivesFailuresAndAHangUpWaitsBeforeRedialling() {
        var roster = PeerRoster()
        roster.add(a, source: .peerOption)
        roster.dialling(a); roster.failed(a, error: "refused", now: 0)
        roster.dialling(a); roster.dialled(a); roster.handshaken(a)
        #expect(roster.ready(now: 10, connected: [a]).isEmpty)  // connected
        roster.disconnected(a, now: 10, reason: "closed")
        #expect(roster.ready(now: 14, connected: []).isEmpty && roster.ready(now: 15, connected: []) == [a])
    }

    @Test func neverDialsItselfOrTheBanned() {
        var roster = PeerRoster()
        roster.listenPort = 6881
        roster.loopbackIsOurs = true
        // Bound to every address: any loopback address with our port is us, as a tracker echoes it back.
        let echoed = roster.add(SocketAddress(ip: "127.0.0.1", port: 6881)!, source: .tracker)
        let otherLoopback = roster.add(a, source: .tracker)
        let otherPort = roster.add(SocketAddress(ip: "127.0.0.1", port: 6882)!, source: .tracker)
        #expect(!echoed && !otherLoopback && otherPort)
        // Bound to one address: only that one is us.
        var bound = PeerRoster()
        bound.listenPort = 6881
        bound.localIPs = ["127.0.0.1"]
        let self1 = bound.add(SocketAddress(ip: "127.0.0.1", port: 6881)!, source: .tracker)
        let someoneElse = bound.add(a, source: .tracker)
        #expect(!self1 && someoneElse)
        // A peer that answered with our own peer id is remembered as us.
        bound.markOurs(a)
        let readded = bound.add(a, source: .pex)
        #expect(bound.ready(now: 0, connected: []).isEmpty && !readded)
        bound.add(b, source: .tracker)
        bound.ban(b)
        #expect(bound.ready(now: 0, connected: []).isEmpty && !bound.hasRetryable)
    }
}

@Suite struct RequestPipelineTests {
    @Test func growsPastABatchingPeersWindowUpToItsQueue() {
        // A peer answering every 500 ms: with 16 in flight it gives 512 KiB/s, and a fixed depth stays there.
        var pipeline = RequestPipeline()
        var rate = 512.0 * 1024
        for _ in 0..<10 {
            pipeline.blockArrived(after: 0.5)
            pipeline.resize(rate: rate, peerQueue: 512, snubbed: false)
            rate = Double(pipeline.depth) * 16384 / 0.5  // what that depth gives at one batch per 500 ms
        }
        #expect(pipeline.depth == 512, "depth \(pipeline.depth)")
        pipeline.resize(rate: Double(100 << 20), peerQueue: 250, snubbed: false)
        #expect(pipeline.depth == 250)  // never past the peer's reqq
        pipeline.resize(rate: Double(100 << 20), peerQueue: nil, snubbed: false)
        #expect(pipeline.depth == RequestPipeline.defaultPeerQueue)
    }

    @Test func aQuickPeerKeepsAModestQueue() {
        // Blocks back within milliseconds: 128 in flight already cover the delay; more only feeds the endgame.
        var pipeline = RequestPipeline()
        for _ in 0..<20 { pipeline.blockArrived(after: 0.01) }
        pipeline.resize(rate: Double(200 << 20), peerQueue: 500, snubbed: false)
        #expect(pipeline.depth == RequestPipeline.fastPeerDepth)
    }

    @Test func aSlowOrSnubbedPeerGetsLittle() {
        var pipeline = RequestPipeline()
        pipeline.blockArrived(after: 0.05)
        pipeline.resize(rate: 20_000, peerQueue: 500, snubbed: false)
        #expect(pipeline.depth == RequestPipeline.minimumDepth)
        pipeline.resize(rate: 20_000, peerQueue: 500, snubbed: true)
        #expect(pipeline.depth == 1)
        // A tiny reqq is honoured only down to the floor peers all accept.
        pipeline.resize(rate: Double(10 << 20), peerQueue: 2, snubbed: false)
        #expect(pipeline.depth == RequestPipeline.minimumDepth)
    }
}

@Suite struct AnnounceSchedulerTests {
    @Test func followsTheIntervalAndRetriesSoonerWhenShortOfPeers() throws {
        var scheduler = AnnounceScheduler(tiers: TrackerTiers([["http://127.0.0.1:1/announce"]]))
        #expect(scheduler.isDue(now: 0, wanted: true) && !scheduler.isDue(now: 0, wanted: false))
        let begun = scheduler.begin(), second = scheduler.begin()
        let tiers = try #require(begun)
        #expect(second == nil && !scheduler.isDue(now: 0, wanted: true))  // one at a time
        scheduler.succeeded(tiers: tiers, interval: 900, minInterval: 60, shortOfPeers: false, now: 0)
        #expect(!scheduler.isDue(now: 899, wanted: true) && scheduler.isDue(now: 900, wanted: true))
        _ = scheduler.begin()
        scheduler.succeeded(tiers: tiers, interval: 900, minInterval: 60, shortOfPeers: true, now: 1000)
        #expect(!scheduler.isDue(now: 1059, wanted: true) && scheduler.isDue(now: 1060, wanted: true))
        _ = scheduler.begin()
        scheduler.failed(tiers: tiers, error: "refused", now: 2000)
        #expect(scheduler.lastError == "refused" && scheduler.isDue(now: 2030, wanted: true))
        #expect(!AnnounceScheduler(tiers: TrackerTiers([])).isDue(now: 0, wanted: true))
    }
}

extension PeerRosterTests {
    @Test func aPeerWithNothingToTradeIsNotRedialled() {
        var roster = PeerRoster()
        roster.add(a, source: .tracker)
        roster.dialling(a); roster.dialled(a); roster.handshaken(a)
        roster.disconnected(a, now: 0, reason: "both complete", redial: false)
        #expect(roster.ready(now: 1000, connected: []).isEmpty)
    }
}

@Suite struct UploadCacheTests {
    @Test func readsEachPieceOnceAndDropsTheLeastRecentlyUsed() {
        var cache = UploadCache(spanLength: 2 << 20)  // holds 4 MiB: two spans
        #expect(cache.capacity == 4 << 20)
        let first = cache.beginRead(1), again = cache.beginRead(1)
        #expect(first && !again)  // one read per span at a time
        cache.endRead(1, bytes: [UInt8](repeating: 1, count: 2 << 20))
        let held = cache.beginRead(1), one = cache.bytes(of: 1)?.first
        #expect(!held && one == 1)
        _ = cache.beginRead(2); cache.endRead(2, bytes: [UInt8](repeating: 2, count: 2 << 20))
        _ = cache.bytes(of: 1)  // 1 is now the most recently used
        _ = cache.beginRead(3); cache.endRead(3, bytes: [UInt8](repeating: 3, count: 2 << 20))
        let two = cache.bytes(of: 2), stillOne = cache.bytes(of: 1), three = cache.bytes(of: 3)
        #expect(two == nil && stillOne != nil && three != nil)
        #expect(cache.heldBytes == 4 << 20)
        // A failed read holds nothing and may be tried again.
        _ = cache.beginRead(4); cache.endRead(4, bytes: nil)
        let four = cache.bytes(of: 4), retry = cache.beginRead(4)
        #expect(four == nil && retry)
    }

    @Test func evictedStorageIsReadIntoAgain() {
        var cache = UploadCache(spanLength: 2 << 20)
        for span in 1...3 { _ = cache.beginRead(span); cache.endRead(span, bytes: [UInt8](repeating: UInt8(span), count: 2 << 20)) }
        // Span 1 was evicted: the next read of that size gets its storage (still holding its bytes).
        let reused = cache.buffer(length: 2 << 20)
        #expect(reused.count == 2 << 20 && reused.first == 1)
        let fresh = cache.buffer(length: 2 << 20)  // nothing else evicted: new memory
        #expect(fresh.first == 0)
        let otherSize = cache.buffer(length: 16 << 10)
        #expect(otherSize.count == 16 << 10)
    }
}

@Suite struct EndgameCapTests {
    @Test func aBlockIsAskedOfTwoPeersAtMost() {
        let layout = PieceLayout(pieceLength: 16384, totalLength: 16384)  // one piece, one block
        var picker = PiecePicker(layout: layout, have: [false])
        for key in 1...3 { picker.peerHas(0); _ = key }
        let first = picker.pick(for: 1, count: 4, peerHas: { _ in true }, inFlight: [])
        let second = picker.pick(for: 2, count: 4, peerHas: { _ in true }, inFlight: [])
        let third = picker.pick(for: 3, count: 4, peerHas: { _ in true }, inFlight: [])
        #expect(first.count == 1 && second == first && third.isEmpty)
    }
}
