import Foundation
import Metainfo
import Net
import PeerWire
import Testing
@testable import Swarm

/// The engine in-process on simulated transports, an injected virtual clock and a seeded RNG.
/// A failure names its seed; `TT_SIM_SEED=n swift test --filter Simulation` runs that seed again
/// (add `SWIFT_DETERMINISTIC_HASHING=1` to also fix the order Swift iterates sets in, which the
/// engine's bookkeeping uses).
@Suite struct SimulationSwarmTests {
    /// 50 peers of every kind: seeders of different rates and latencies, some that hold only part
    /// of the torrent, some that choke and unchoke on a schedule, one liar, one silent, five that
    /// leave mid-piece.
    @Test func fiftyPeersWithLiarSilentLeaversAndChokers() throws {
        let seed = SimulationSeed.value(default: 11)
        let context = SimulationContext(seed: seed)
        let swarm = try SimulatedSwarm(seed: seed, length: 8 << 20, pieceLength: 64 * 1024)
        var random = swarm.random.fork()
        func host(_ low: Int, _ high: Int) -> SimulatedNetwork.Host {
            .init(upload: Double(1024 * Int.random(in: low...high, using: &random)), latency: Double.random(in: 0.005...0.08, using: &random))
        }
        let liar = swarm.addPeer(.init(corruptsBlocks: true), host: host(256, 256))
        let silent = swarm.addPeer(.init(answers: false), host: host(16, 16))
        let leavers = (0..<5).map { _ in swarm.addPeer(.init(leavesAfterBytes: Int.random(in: 20_000...100_000, using: &random)), host: host(16, 128)) }
        // The chokers and half the seeders speak BEP 6/10 (have_all, a reject for each request dropped).
        let chokers = (0..<5).map { _ in swarm.addPeer(.init(chokeCycle: (20, 10), speaksExtensions: true), host: host(16, 128)) }
        // The rest unchoke a second later, so the peers under test get the first requests whatever the
        // engine's endgame does with the last blocks.
        for _ in 0..<8 {
            let pieces = Set((0..<swarm.torrent.pieceCount).filter { _ in Bool.random(using: &random) })
            swarm.addPeer(.init(pieces: .some(pieces), unchokeNotBefore: 1001), host: host(16, 128))
        }
        while swarm.peers.count < 50 {
            swarm.addPeer(.init(answerDelay: Double.random(in: 0...0.3, using: &random), unchokeNotBefore: 1001,
                                speaksExtensions: swarm.peers.count % 2 == 0), host: host(16, 128))
        }
        let snubTimeout = 3.0
        try swarm.makeEngine { $0.snubTimeout = snubTimeout }
        let summary = try swarm.run(limit: 900)
        #expect(summary.outcome == .complete, context.comment)
        #expect(swarm.downloaded == swarm.torrent.data, context.comment)

        // The liar: banned, never dialled again, and every piece it spoiled fetched from someone else.
        let banTime = swarm.events.first { if case .peerBanned(let a, _, _) = $0.event { return a == liar.address } else { return false } }?.time
        #expect(banTime != nil, "\(swarm.dropped.filter { $0.address == liar.address.description }) \(swarm.requests(to: liar).count) \(liar.blockBytesSent); \(context.comment)")
        #expect(swarm.banned == [liar.address.description], context.comment)
        #expect(swarm.network.dials.filter { $0 == liar.address }.count == 1, context.comment)
        let spoiled = swarm.failedPieces.filter { $0.peers.contains(liar.address.description) }
        #expect(!spoiled.isEmpty, context.comment)
        for failure in spoiled {
            let refetched = swarm.verifiedPieces.first { $0.piece == failure.piece && $0.time > failure.time }
            #expect(refetched != nil && refetched?.peer != liar.address.description, "piece \(failure.piece); \(context.comment)")
        }
        if let banTime { #expect(swarm.requests(to: liar).allSatisfy { $0.time <= banTime }, context.comment) }

        // The silent peer: asked, snubbed after `snubTimeout`, its blocks asked of others, then dropped.
        let silentRequests = swarm.requests(to: silent)
        #expect(!silentRequests.isEmpty, context.comment)
        let askedOfOthers = Set(swarm.peers.filter { $0 !== silent }.flatMap { swarm.requests(to: $0).map(\.request) })
        for (_, request) in silentRequests {
            let elsewhere = askedOfOthers.contains(request)
            #expect(elsewhere, "block \(request) of the silent peer was never asked of anyone else; \(context.comment)")
        }
        let silentDrop = swarm.dropped.first { $0.address == silent.address.description }
        if let connected = swarm.opened[silent.address]?.first {
            // Snubbed at the first once-a-second tick `snubTimeout` after it connected: its requests
            // are abandoned and from then on it gets one at a time — not a fresh pipeline.
            let snubbedAt = 1000 + (connected - 1000 + snubTimeout).rounded(.down) + 1
            let atSnub = silentRequests.filter { abs($0.time - snubbedAt) < 1e-6 }.count
            #expect(atSnub <= 1, "\(atSnub) requests to the silent peer the moment it was snubbed (\(snubbedAt)); \(context.comment)")
            let asked = silentRequests.filter { $0.time > snubbedAt - 1e-6 && $0.time <= (silentDrop?.time ?? .infinity) }.count
            let cancelled = swarm.cancels(to: silent).filter { $0.time > snubbedAt - 1e-6 && $0.time <= (silentDrop?.time ?? .infinity) }.count
            #expect(asked - cancelled <= 1, "\(silentRequests.map { $0.time }); \(context.comment)")
        }
        if let silentDrop, silentDrop.reason.contains("sent nothing"), let first = silentRequests.first {
            // Dropped only after twice the timeout. (It may also outlive the download: in endgame its one
            // request keeps being cancelled, and a peer with nothing in flight is not timed out.)
            #expect(silentDrop.time - first.time >= 2 * snubTimeout, context.comment)
        }

        // The leavers reset mid-piece; what they left unfinished came from others (the data is whole).
        for leaver in leavers {
            #expect(leaver.left, context.comment)
            #expect(leaver.blockBytesSent % (16 * 1024) != 0, "\(leaver.address) left on a block boundary; \(context.comment)")
        }

        // Chokers: asked while they unchoked; their rejects (BEP 6) did not stop the download.
        for choker in chokers {
            #expect(!swarm.requests(to: choker).isEmpty, context.comment)
        }
        // Peers speaking BEP 6 were told have_none (we had nothing) after the extension handshake, never a bitfield.
        let fastPeer = try #require(swarm.peers.first { $0.behaviour.speaksExtensions })
        let toFastPeer = swarm.sent(to: fastPeer).map(\.message).filter { $0.name != "extended" }
        #expect(toFastPeer.first == .haveNone && !toFastPeer.contains { $0.name == "bitfield" }, "\(toFastPeer.prefix(3).map(\.name)); \(context.comment)")

        // Endgame: duplicates, then cancels for the copies that were no longer needed.
        var firstAsked: [BlockRequest: [ObjectIdentifier: Double]] = [:]
        for peer in swarm.peers {
            for (time, request) in swarm.requests(to: peer) where firstAsked[request]?[ObjectIdentifier(peer)] == nil {
                firstAsked[request, default: [:]][ObjectIdentifier(peer)] = time
            }
        }
        var cancelled = 0
        for peer in swarm.peers {
            for (time, request) in swarm.cancels(to: peer) {
                cancelled += 1
                let askers = firstAsked[request] ?? [:]
                #expect(askers[ObjectIdentifier(peer)].map { $0 <= time } == true, context.comment)
                #expect(askers.contains { $0.key != ObjectIdentifier(peer) && $0.value <= time },
                        "cancel of \(request) that was never requested twice; \(context.comment)")
            }
        }
        #expect(cancelled > 0, context.comment)
        print("fifty peers: seed \(seed), \(swarm.loop.now - 1000) virtual s, \(cancelled) cancels, \(spoiled.count) spoiled pieces, \(summary.wastedBytes) bytes wasted")
    }
}

@Suite struct SimulationPickingTests {
    /// Every peer holds part of the torrent, each piece held by its own number of peers; peers
    /// unchoke one a second, so each new piece the engine starts is its choice for that peer alone.
    /// After the first few (picked at random, to have something to trade), every piece started is
    /// one of the rarest the peer could give that nobody was asked for yet.
    @Test func rarestFirst() throws {
        let seed = SimulationSeed.value(default: 21)
        let context = SimulationContext(seed: seed)
        let swarm = try SimulatedSwarm(seed: seed, length: 4 << 20, pieceLength: 32 * 1024)
        var random = swarm.random.fork()
        let pieceCount = swarm.torrent.pieceCount
        var holders = [Set<Int>](repeating: [], count: 50)
        var availability = [Int](repeating: 0, count: pieceCount)
        for piece in 0..<pieceCount {
            availability[piece] = Int.random(in: 1...20, using: &random)
            var peers = Array(0..<50)
            peers.shuffle(using: &random)
            for peer in peers.prefix(availability[piece]) { holders[peer].insert(piece) }
        }
        for index in 0..<50 {
            if holders[index].isEmpty { holders[index].insert(index % pieceCount); availability[index % pieceCount] += 1 }
            swarm.addPeer(.init(pieces: .some(holders[index]), unchokeNotBefore: 1003 + Double(index)),
                          host: .init(upload: 1_048_576, latency: 0.01))
        }
        try swarm.makeEngine()
        let summary = try swarm.run(limit: 300)
        #expect(summary.outcome == .complete, context.comment)
        #expect(swarm.downloaded == swarm.torrent.data, context.comment)

        let randomPhaseEnds = swarm.verifiedPieces.dropFirst(3).first?.time ?? .infinity
        var started = Set<Int>()
        var checked = 0, rarest = 0
        for entry in swarm.allSent {
            guard case .request(let request) = entry.message, started.insert(Int(request.index)).inserted else { continue }
            guard entry.time > randomPhaseEnds, let peer = swarm.peer(at: entry.to) else { continue }
            let piece = Int(request.index)
            let choices = peer.has.indices.filter { !started.contains($0) || $0 == piece }
            let least = choices.map { availability[$0] }.min()
            checked += 1
            if availability[piece] == least { rarest += 1 } else {
                Issue.record("piece \(piece) (held by \(availability[piece])) started at \(entry.time) from \(entry.to), which also had a piece held by \(least ?? -1); \(context.comment)")
            }
        }
        #expect(checked >= 50 && rarest == checked, "\(rarest) of \(checked) starts rarest first; \(context.comment)")
        print("rarest first: seed \(seed), \(rarest)/\(checked) starts, \(swarm.loop.now - 1000) virtual s")
    }
}

extension Bitfield {
    /// The pieces set.
    var indices: [Int] { (0..<pieceCount).filter { self[$0] } }
}

/// BEP 3 choking as the engine applies it every 10 s: four regular slots by rate, one optimistic
/// unchoke rotated every 30 s.
@Suite struct SimulationChokingTests {
    /// The rechokes of a run started at 1000 on the virtual clock: every 10 s.
    func rechokes(until end: Double) -> [Double] { Array(stride(from: 1010.0, through: end, by: 10)) }

    /// The optimistic unchoke: the one unchoked peer that is not among `regular`, at each rechoke.
    func optimistic(_ sets: [Set<SocketAddress>], regular: Set<SocketAddress>, context: SimulationContext) -> [SocketAddress?] {
        sets.map { set in
            let others = set.subtracting(regular)
            #expect(others.count <= 1, "\(others) besides the regular four; \(context.comment)")
            return others.first
        }
    }

    /// The optimistic unchoke changes exactly every 30 s.
    func expectRotationEvery30s(_ picks: [SocketAddress?], at times: [Double], context: SimulationContext) {
        var changes: [Double] = []
        for index in 1..<picks.count where picks[index] != picks[index - 1] { changes.append(times[index]) }
        #expect(changes.count >= 3, "optimistic changes at \(changes); \(context.comment)")
        for (a, b) in zip(changes, changes.dropFirst()) {
            #expect(abs(b - a - 30) < 0.01, "optimistic changed at \(a) then \(b); \(context.comment)")
        }
        #expect(picks.dropFirst().allSatisfy { $0 != nil }, context.comment)
    }

    /// Downloading: the four peers that give us the most get the regular slots.
    @Test func downloadingUnchokesTheFourThatGiveMost() throws {
        let seed = SimulationSeed.value(default: 31)
        let context = SimulationContext(seed: seed)
        let swarm = try SimulatedSwarm(seed: seed, length: 64 << 20, pieceLength: 256 * 1024)
        var random = swarm.random.fork()
        var fast: Set<SocketAddress> = []
        for index in 0..<50 {
            // Everyone has about half and wants what we get: both directions are busy.
            let pieces = Set((0..<swarm.torrent.pieceCount).filter { _ in Bool.random(using: &random) })
            let rate = index % 12 == 5 ? 32 * 1024.0 : 1024.0
            let peer = swarm.addPeer(.init(pieces: .some(pieces), leeches: true), host: .init(upload: rate, latency: 0.02))
            if rate > 1024 { fast.insert(peer.address) }
        }
        #expect(fast.count == 4)
        try swarm.makeEngine()
        let summary = try swarm.run(limit: 125)
        #expect(summary.outcome == .interrupted, context.comment)
        let times = rechokes(until: 1120)
        let sets = swarm.unchoked(after: times)
        for (time, set) in zip(times, sets) where time >= 1020 {
            #expect(fast.isSubset(of: set), "at \(time): \(set.subtracting(fast).count) others, fast missing \(fast.subtracting(set)); \(context.comment)")
        }
        #expect(swarm.mostUnchoked(from: 1010) <= 5, context.comment)
        expectRotationEvery30s(optimistic(sets, regular: fast, context: context), at: times, context: context)
    }

    /// Seeding: the four leechers that take the most get the regular slots; when one of them slows
    /// down, a faster peer takes its slot at a following rechoke.
    @Test func seedingUnchokesTheFourThatTakeMost() throws {
        let seed = SimulationSeed.value(default: 41)
        let context = SimulationContext(seed: seed)
        let swarm = try SimulatedSwarm(seed: seed, length: 4 << 20, pieceLength: 64 * 1024)
        let leecher = SimulatedPeer.Behaviour(pieces: .none, leeches: true, dialsEngine: true)
        func host(_ rate: Double) -> SimulatedNetwork.Host { .init(download: rate, latency: 0.02) }
        let fast = (0..<4).map { swarm.addIncomingPeer(leecher, host: host(64 * 1024), after: 0.1 + 0.1 * Double($0)) }
        for index in 0..<46 { swarm.addIncomingPeer(leecher, host: host(4 * 1024), after: 1 + Double(index) / 23) }
        // At 110 s the last fast leecher's link drops to 512 B/s: from then on it takes less than the slow ones.
        let slowed = fast[3]
        swarm.loop.schedule(at: 1110) {
            for connection in swarm.network.connections where connection.listener.remote == slowed.address {
                connection.listener.outgoing.rate = 512
            }
        }
        try swarm.makeEngine(serve: true) { $0.duration = 170 }
        let summary = try swarm.run(limit: 200)
        #expect(summary.outcome == .stopped, context.comment)

        let fastAddresses = Set(fast.map(\.address))
        let times = rechokes(until: 1160)
        let sets = swarm.unchoked(after: times)
        for (time, set) in zip(times, sets) where time < 1110 {
            #expect(fastAddresses.isSubset(of: set), "at \(time): fast missing \(fastAddresses.subtracting(set)); \(context.comment)")
        }
        #expect(swarm.mostUnchoked(from: 1010) <= 5, context.comment)
        let early = Array(zip(times, sets).filter { $0.0 < 1110 })
        expectRotationEvery30s(optimistic(early.map(\.1), regular: fastAddresses, context: context), at: early.map(\.0), context: context)
        // The slowed leecher loses its regular slot: choked at a rechoke soon after, and the other
        // three keep theirs.
        let still = fastAddresses.subtracting([slowed.address])
        for (time, set) in zip(times, sets) where time >= 1110 {
            #expect(still.isSubset(of: set), "at \(time); \(context.comment)")
        }
        let choked = swarm.chokeChanges(to: slowed).contains { !$0.unchoked && $0.time > 1110 && $0.time <= 1140 + 1e-6 }
        #expect(choked, "\(swarm.chokeChanges(to: slowed)); \(context.comment)")
        // What we upload goes mostly to the fast four.
        let toFast = fast.reduce(0) { $0 + $1.blockBytesReceived }
        let total = swarm.peers.reduce(0) { $0 + $1.blockBytesReceived }
        #expect(Double(toFast) > 0.7 * Double(total), "\(toFast) of \(total) bytes to the fast four; \(context.comment)")
    }
}

@Suite struct SimulationDeterminismTests {
    /// The same seed gives the same run: every message the engine wrote, to whom and when, and every
    /// event it reported. A different seed gives another.
    @Test func sameSeedSameRun() throws {
        func run(_ seed: UInt64) throws -> [String] {
            let swarm = try SimulatedSwarm(seed: seed, length: 2 << 20, pieceLength: 32 * 1024)
            var random = swarm.random.fork()
            for index in 0..<50 {
                var behaviour = SimulatedPeer.Behaviour(answerDelay: Double.random(in: 0...0.2, using: &random))
                if index % 10 == 3 { behaviour.chokeCycle = (4, 2) }
                if index == 7 { behaviour.corruptsBlocks = true }
                if index % 9 == 4 { behaviour.pieces = .some(Set((0..<swarm.torrent.pieceCount).filter { _ in Bool.random(using: &random) })) }
                swarm.addPeer(behaviour, host: .init(upload: Double.random(in: 8_000...64_000, using: &random), latency: Double.random(in: 0.005...0.05, using: &random)))
            }
            try swarm.makeEngine()
            _ = try swarm.run(limit: 300)
            let sent = swarm.allSent.map { "\($0.time) \($0.to) \($0.message.name)" }
            let events = swarm.events.map { "\($0.time) \($0.event)".replacingOccurrences(of: swarm.directory, with: "DIR") }
            return sent + events
        }
        let seed = SimulationSeed.value(default: 51)
        let first = try run(seed)
        #expect(first.count > 1000)
        let again = try run(seed)
        let difference = zip(first, again).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            ?? (first.count == again.count ? nil : min(first.count, again.count))
        let other = try run(seed + 1)
        #expect(other != first)
        // Swift seeds each Set and Dictionary from its address unless SWIFT_DETERMINISTIC_HASHING is
        // set, and the engine's bookkeeping iterates some; scripts/test sets it.
        if ProcessInfo.processInfo.environment["SWIFT_DETERMINISTIC_HASHING"] != nil {
            #expect(difference == nil, "runs differ from entry \(difference ?? 0): \(difference.map { first[min($0, first.count - 1)] } ?? "") vs \(difference.map { again[min($0, again.count - 1)] } ?? ""); reproduce with TT_SIM_SEED=\(seed) SWIFT_DETERMINISTIC_HASHING=1")
        } else {
            withKnownIssue("without SWIFT_DETERMINISTIC_HASHING=1 set iteration order differs between runs", isIntermittent: true) {
                #expect(difference == nil)
            }
        }
    }
}
