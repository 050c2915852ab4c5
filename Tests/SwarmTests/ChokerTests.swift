import Testing
@testable import Swarm

@Suite struct ChokerTests {
    let choker = Choker()

    func peers(_ rates: [Double], seeding: Bool = false) -> [Choker.Peer] {
        rates.enumerated().map { key, rate in
            Choker.Peer(key: key, downloadRate: seeding ? 0 : rate, uploadRate: seeding ? rate : 0, interested: true)
        }
    }

    @Test func fourFastestUploadersGetTheRegularSlotsWhileDownloading() {
        var random = SeededGenerator(seed: 1)
        let swarm = peers([10, 500, 30, 900, 20, 700, 600, 5])
        let decision = choker.decide(peers: swarm, seeding: false, now: 100, current: nil, using: &random)
        #expect(decision.byRate == [3, 5, 6, 1])
        let optimistic = try! #require(decision.optimistic)
        #expect([0, 2, 4, 7].contains(optimistic.key) && optimistic.since == 100)
        #expect(decision.unchoked == [3, 5, 6, 1, optimistic.key])
    }

    @Test func seedingRanksByWhatPeersTake() {
        var random = SeededGenerator(seed: 1)
        // High download rates must not matter when we are the seed.
        var swarm = peers([1, 2, 3, 4, 5, 6], seeding: true)
        for index in swarm.indices { swarm[index].downloadRate = Double(1000 - index) }
        let decision = choker.decide(peers: swarm, seeding: true, now: 0, current: nil, using: &random)
        #expect(decision.byRate == [5, 4, 3, 2])
        #expect([0, 1].contains(decision.optimistic?.key))
    }

    @Test func snubbedAndUninterestedPeersNeverGetARegularSlot() {
        var random = SeededGenerator(seed: 2)
        var swarm = peers([900, 800, 700, 600, 500, 400, 1])
        swarm[0].snubbed = true
        swarm[1].interested = false
        let decision = choker.decide(peers: swarm, seeding: false, now: 0, current: nil, using: &random)
        #expect(decision.byRate == [2, 3, 4, 5])
        #expect(!decision.unchoked.contains(1))
        // The snubbed peer may still be tried optimistically; the uninterested one never.
        #expect([0, 6].contains(decision.optimistic?.key))
    }

    @Test func optimisticUnchokeIsKeptThirtySecondsThenRotated() {
        var random = SeededGenerator(seed: 3)
        let swarm = peers([900, 800, 700, 600, 1, 1, 1, 1, 1, 1])
        var current = choker.decide(peers: swarm, seeding: false, now: 0, current: nil, using: &random).optimistic
        let first = try! #require(current)
        for now in stride(from: 10.0, to: 30, by: 10) {
            current = choker.decide(peers: swarm, seeding: false, now: now, current: current, using: &random).optimistic
            #expect(current == first)
        }
        let rotated = choker.decide(peers: swarm, seeding: false, now: 30, current: current, using: &random)
        #expect(rotated.optimistic?.key != first.key && rotated.optimistic?.since == 30)
        #expect(rotated.byRate == [0, 1, 2, 3])
    }

    @Test func optimisticMovesOnWhenItsPeerLosesInterestOrEarnsASlot() {
        var random = SeededGenerator(seed: 4)
        var swarm = peers([900, 800, 700, 600, 1, 2])
        let current = Choker.Optimistic(key: 4, since: 0)
        swarm[4].interested = false
        #expect(choker.decide(peers: swarm, seeding: false, now: 5, current: current, using: &random).optimistic == .init(key: 5, since: 5))
        swarm[4].interested = true
        swarm[4].downloadRate = 10_000   // now the fastest: a regular slot, and the optimistic goes elsewhere
        let decision = choker.decide(peers: swarm, seeding: false, now: 6, current: current, using: &random)
        #expect(decision.byRate == [4, 0, 1, 2])
        #expect(decision.optimistic == .init(key: 3, since: 6) || decision.optimistic == .init(key: 5, since: 6))
    }

    @Test func fewInterestedPeersAreAllUnchoked() {
        var random = SeededGenerator(seed: 5)
        let decision = choker.decide(peers: peers([0, 0, 0]), seeding: false, now: 0, current: nil, using: &random)
        #expect(decision.unchoked == [0, 1, 2] && decision.optimistic == nil)
        #expect(choker.decide(peers: [], seeding: false, now: 0, current: nil, using: &random) == .init(byRate: [], optimistic: nil))
    }

    @Test func tiesKeepWhoeverIsUnchokedAlready() {
        var random = SeededGenerator(seed: 6)
        var swarm = peers([0, 0, 0, 0, 0, 0, 0])
        for key in [6, 5, 4, 3] { swarm[key].unchoked = true }
        let decision = choker.decide(peers: swarm, seeding: false, now: 0, current: nil, using: &random)
        #expect(decision.byRate == [3, 4, 5, 6])
    }

    @Test func newcomersAreThreeTimesAsLikelyToBeTheOptimisticUnchoke() {
        var random = SeededGenerator(seed: SimulationSeed.value(default: 7))
        // 4 regular peers, then 10 old choked peers and 10 that connected 5 s ago.
        var swarm = peers([900, 800, 700, 600] + [Double](repeating: 0, count: 20))
        for index in 14..<24 { swarm[index].connectedAt = 995 }
        var newcomers = 0
        let rounds = 4000
        for _ in 0..<rounds {
            let pick = choker.decide(peers: swarm, seeding: false, now: 1000, current: nil, using: &random).optimistic!.key
            if pick >= 14 { newcomers += 1 }
        }
        // Expected share 30/40 = 0.75; the old peers' share is 0.25.
        let share = Double(newcomers) / Double(rounds)
        #expect(share > 0.70 && share < 0.80, "newcomer share \(share)")
    }

    @Test func sameSeedSameDecisions() {
        func run(_ seed: UInt64) -> [Int?] {
            var random = SeededGenerator(seed: seed)
            let swarm = peers((0..<50).map { Double($0 % 7) })
            var current: Choker.Optimistic?
            return stride(from: 0.0, to: 600, by: 10).map { now in
                current = choker.decide(peers: swarm, seeding: false, now: now, current: current, using: &random).optimistic
                return current?.key
            }
        }
        #expect(run(11) == run(11))
        #expect(Set(run(11).compactMap { $0 }).count > 5)   // it really rotates among many peers
    }
}
