/// Who we upload to: BEP 3's choking algorithm as a pure function of the peers, the time and a
/// random number generator, so it is tested with values alone and the engine only applies it.
///
/// - `slots` regular unchokes go to the interested peers that give us the most (our download rate
///   from them) while we download, and to those that take the most (our upload rate to them) while
///   we seed. Snubbed peers — they sent nothing we asked for — never earn a slot by rate.
/// - One optimistic unchoke goes to an interested peer left choked, chosen at random and kept for
///   `optimisticInterval` (30 s): it lets a newcomer show what it can give. Peers that connected
///   within the last interval are three times as likely to be picked (BEP 3).
///
/// Ties in rate keep whoever is unchoked already, then the lower key, so the result does not flap
/// and a simulation gives the same answer every run.
public struct Choker: Sendable {
    /// What the choker needs to know about one connected peer.
    public struct Peer: Sendable, Equatable {
        /// The engine's name for the peer; echoed back in the decision.
        public var key: Int
        /// Bytes/s the peer sends us.
        public var downloadRate: Double
        /// Bytes/s we send the peer.
        public var uploadRate: Double
        /// The peer wants something we have.
        public var interested: Bool
        /// The peer left our requests unanswered too long.
        public var snubbed: Bool
        /// We are not choking it now.
        public var unchoked: Bool
        /// When it connected, on the same clock as `now`.
        public var connectedAt: Double

        public init(key: Int, downloadRate: Double = 0, uploadRate: Double = 0, interested: Bool,
                    snubbed: Bool = false, unchoked: Bool = false, connectedAt: Double = 0) {
            self.key = key
            self.downloadRate = downloadRate
            self.uploadRate = uploadRate
            self.interested = interested
            self.snubbed = snubbed
            self.unchoked = unchoked
            self.connectedAt = connectedAt
        }
    }

    /// The current optimistic unchoke and since when it holds the slot; carried from one decision
    /// to the next.
    public struct Optimistic: Sendable, Equatable {
        public var key: Int
        public var since: Double
        public init(key: Int, since: Double) {
            self.key = key
            self.since = since
        }
    }

    /// Who is unchoked after a rechoke.
    public struct Decision: Sendable, Equatable {
        /// The regular slots, best rate first.
        public var byRate: [Int]
        /// The optimistic unchoke, if any peer is left to give it to.
        public var optimistic: Optimistic?
        /// Every peer to unchoke; everyone else is choked.
        public var unchoked: Set<Int> {
            var all = Set(byRate)
            if let optimistic { all.insert(optimistic.key) }
            return all
        }
    }

    /// Regular unchoke slots (`SwarmConfiguration.uploadSlots`).
    public var slots: Int
    /// How long one peer keeps the optimistic unchoke.
    public var optimisticInterval: Double
    /// How much likelier a peer connected within the last interval is to get the optimistic unchoke.
    public var newPeerWeight: Int

    public init(slots: Int = 4, optimisticInterval: Double = 30, newPeerWeight: Int = 3) {
        self.slots = max(0, slots)
        self.optimisticInterval = optimisticInterval
        self.newPeerWeight = max(1, newPeerWeight)
    }

    /// Decides who is unchoked at `now`.
    /// - Parameters:
    ///   - peers: every connected peer that finished its handshake.
    ///   - seeding: we have everything (or only serve), so peers are ranked by what they take.
    ///   - current: the optimistic unchoke from the previous decision.
    public func decide<Random: RandomNumberGenerator>(peers: [Peer], seeding: Bool, now: Double,
                                                      current: Optimistic?, using random: inout Random) -> Decision {
        let interested = peers.filter(\.interested)
        let rate: (Peer) -> Double = seeding ? { $0.uploadRate } : { $0.downloadRate }
        let ranked = interested.filter { !$0.snubbed }.sorted { a, b in
            if rate(a) != rate(b) { return rate(a) > rate(b) }
            if a.unchoked != b.unchoked { return a.unchoked }
            return a.key < b.key
        }
        let byRate = ranked.prefix(slots).map(\.key)
        let regular = Set(byRate)
        let choked = interested.filter { !regular.contains($0.key) }

        // Keep the optimistic unchoke for its interval while it is still an interested peer that
        // did not earn a regular slot meanwhile (then the slot would be wasted on it).
        if let current, now - current.since < optimisticInterval,
           choked.contains(where: { $0.key == current.key }) {
            return Decision(byRate: byRate, optimistic: current)
        }
        // Rotate: someone else gets the slot when there is anyone else.
        var candidates = choked.sorted { $0.key < $1.key }
        if candidates.count > 1, let current { candidates.removeAll { $0.key == current.key } }
        guard let pick = weightedPick(from: candidates, now: now, using: &random) else {
            return Decision(byRate: byRate, optimistic: nil)
        }
        return Decision(byRate: byRate, optimistic: Optimistic(key: pick, since: now))
    }

    /// A random peer, newcomers counted `newPeerWeight` times.
    private func weightedPick<Random: RandomNumberGenerator>(from candidates: [Peer], now: Double,
                                                           using random: inout Random) -> Int? {
        guard !candidates.isEmpty else { return nil }
        let weights = candidates.map { now - $0.connectedAt < optimisticInterval ? newPeerWeight : 1 }
        var ticket = Int.random(in: 0..<weights.reduce(0, +), using: &random)
        for (peer, weight) in zip(candidates, weights) {
            if ticket < weight { return peer.key }
            ticket -= weight
        }
        return candidates.last?.key
    }
}
