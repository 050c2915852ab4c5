import Metainfo
import PeerWire

/// Which block to ask which peer for next: rarest-first over whole pieces, with the first
/// few pieces at random, pieces finished before new ones are started, and an endgame that
/// asks a second peer for blocks still outstanding. No I/O: the engine tells it what peers
/// have, what was requested, received and verified, and it answers with block requests.
///
/// Each piece is normally fetched from one peer, so a piece that fails its hash names the
/// peer that sent it; other peers join a piece only when nothing else is left to start.
public struct PiecePicker {
    /// A peer as the picker knows it (the engine's connection id).
    public typealias PeerKey = Int

    public struct Block: Hashable, Sendable {
        public let piece: Int
        public let begin: Int
        public let length: Int
    }

    /// A piece being fetched. A class, so that recording one block changes it in place instead of
    /// copying its per-block arrays out of the dictionary and back (this runs for every block).
    final class PieceProgress {
        let blockCount: Int
        /// Per block: the peers asked for it (empty: nobody yet).
        var requestedBy: [[PeerKey]]
        var received: [Bool]
        var receivedCount = 0
        /// Peers given blocks of this piece.
        var workers: Set<PeerKey> = []
        /// Peers whose data went into this piece (for banning on a bad hash).
        var contributors: Set<PeerKey> = []

        init(blockCount: Int) {
            self.blockCount = blockCount
            self.requestedBy = Array(repeating: [], count: blockCount)
            self.received = Array(repeating: false, count: blockCount)
        }
    }

    public let layout: PieceLayout
    /// Block arithmetic (the only place blocks are computed).
    let lengths: Lengths
    /// Pieces verified and stored.
    public private(set) var have: [Bool]
    public private(set) var haveCount = 0
    /// Pieces the download wants (all, unless files were left out with `--files`).
    public let wanted: [Bool]
    /// Wanted pieces not yet verified: the download is complete at zero.
    public private(set) var missingWanted = 0
    /// How many connected peers have each piece.
    public private(set) var availability: [Int]
    /// Pieces nobody has started, by availability: rarest-first looks at the lowest non-empty
    /// bucket instead of scanning every piece (which is quadratic on torrents of 100 000+ pieces).
    private var buckets: [Set<Int>] = [[]]
    private var inProgress: [Int: PieceProgress] = [:]
    /// Pieces waiting for the hash check (all blocks received).
    private var checking: Set<Int> = []
    /// In the endgame, how many peers may be asked for one block.
    static let maxRequestersPerBlock = 2
    /// Pieces to pick at random before switching to rarest-first.
    public var randomFirstPieces = 4
    private var generator: any RandomNumberGenerator

    public init(layout: PieceLayout, have: [Bool], wanted: [Bool]? = nil, generator: any RandomNumberGenerator = FastRandom()) {
        precondition(have.count == layout.pieceCount)
        self.layout = layout
        self.lengths = Lengths(layout: layout)
        self.have = have
        self.haveCount = have.filter { $0 }.count
        self.wanted = wanted ?? [Bool](repeating: true, count: layout.pieceCount)
        self.availability = [Int](repeating: 0, count: layout.pieceCount)
        self.generator = generator
        for piece in 0..<layout.pieceCount where !have[piece] && self.wanted[piece] {
            buckets[0].insert(piece)
            missingWanted += 1
        }
    }

    /// Not verified, not being fetched, not being checked: a piece `nextNewPiece` may start.
    private func isEligible(_ piece: Int) -> Bool {
        !have[piece] && wanted[piece] && inProgress[piece] == nil && !checking.contains(piece)
    }

    private mutating func setAvailability(_ piece: Int, _ value: Int) {
        let old = availability[piece]
        guard value != old else { return }
        availability[piece] = value
        guard isEligible(piece) else { return }
        buckets[old].remove(piece)
        while buckets.count <= value { buckets.append([]) }
        buckets[value].insert(piece)
    }

    private mutating func makeEligible(_ piece: Int) {
        guard isEligible(piece) else { return }
        while buckets.count <= availability[piece] { buckets.append([]) }
        buckets[availability[piece]].insert(piece)
    }

    private mutating func makeIneligible(_ piece: Int) {
        if availability[piece] < buckets.count { buckets[availability[piece]].remove(piece) }
    }

    /// Every wanted piece is verified (every piece, unless files were left out).
    public var isComplete: Bool { missingWanted == 0 }
    /// Wanted pieces neither verified nor waiting for their hash check.
    public var remainingPieces: Int { missingWanted - checking.count }

    // MARK: - Availability

    public mutating func peerHas(_ piece: Int) { setAvailability(piece, availability[piece] + 1) }

    public mutating func peerHas(bitfield: (Int) -> Bool) {
        for piece in 0..<layout.pieceCount where bitfield(piece) { setAvailability(piece, availability[piece] + 1) }
    }

    public mutating func peerLeft(bitfield: (Int) -> Bool) {
        for piece in 0..<layout.pieceCount where bitfield(piece) { setAvailability(piece, max(0, availability[piece] - 1)) }
    }

    // MARK: - Picking

    /// Up to `count` blocks for `peer`, which has the pieces `peerHas` says; `inFlight` is what the
    /// peer has been asked for already (so the endgame never asks it twice for one block).
    public mutating func pick(for peer: PeerKey, count: Int, peerHas: (Int) -> Bool, inFlight: Set<Block>) -> [Block] {
        guard count > 0 else { return [] }
        var picked: [Block] = []
        // 1. Blocks of pieces this peer is already fetching.
        for (piece, progress) in inProgress where progress.workers.contains(peer) {
            fill(piece, for: peer, into: &picked, limit: count, duplicate: false, inFlight: inFlight)
            if picked.count >= count { return picked }
        }
        // 2. New pieces: random at first, then rarest first (random among equals).
        while picked.count < count, let piece = nextNewPiece(peerHas: peerHas) {
            makeIneligible(piece)
            inProgress[piece] = PieceProgress(blockCount: lengths.blockCount(of: PieceIndex.unchecked(piece, layout)))
            fill(piece, for: peer, into: &picked, limit: count, duplicate: false, inFlight: inFlight)
        }
        if picked.count >= count { return picked }
        // 3. Help with other peers' pieces: blocks nobody was asked for.
        for piece in inProgress.keys.sorted() where peerHas(piece) {
            fill(piece, for: peer, into: &picked, limit: count, duplicate: false, inFlight: inFlight)
            if picked.count >= count { return picked }
        }
        // 4. Endgame: everything left is requested; ask this peer too.
        if remainingUnrequestedPieces == 0 {
            for piece in inProgress.keys.sorted() where peerHas(piece) {
                fill(piece, for: peer, into: &picked, limit: count, duplicate: true, inFlight: inFlight)
                if picked.count >= count { return picked }
            }
        }
        return picked
    }

    /// Pieces nobody has started.
    private var remainingUnrequestedPieces: Int {
        missingWanted - checking.count - inProgress.count
    }

    public var inEndgame: Bool { remainingUnrequestedPieces == 0 && !inProgress.isEmpty }

    private mutating func fill(_ piece: Int, for peer: PeerKey, into picked: inout [Block], limit: Int, duplicate: Bool, inFlight: Set<Block>) {
        guard let progress = inProgress[piece] else { return }
        let index = PieceIndex.unchecked(piece, layout)
        for block in 0..<progress.blockCount where picked.count < limit && !progress.received[block] {
            let requesters = progress.requestedBy[block]
            if requesters.contains(peer) { continue }
            if !requesters.isEmpty && !duplicate { continue }
            // Endgame: one extra copy of a block at most (libtorrent caps them too), not one per peer.
            if requesters.count >= Self.maxRequestersPerBlock { continue }
            let info = lengths.block(block, of: index)
            let candidate = Block(piece: piece, begin: info.begin, length: info.length)
            if inFlight.contains(candidate) { continue }
            progress.requestedBy[block].append(peer)
            progress.workers.insert(peer)
            picked.append(candidate)
        }
    }

    private mutating func nextNewPiece(peerHas: (Int) -> Bool) -> Int? {
        if haveCount + checking.count < randomFirstPieces {
            // The first pieces at random: something to trade soon, whatever is rare.
            var candidates: [Int] = []
            for bucket in buckets { for piece in bucket where peerHas(piece) { candidates.append(piece) } }
            return candidates.randomElement(using: &generator)
        }
        // Rarest first; ties broken at random among a few candidates of the rarest bucket the peer can serve.
        for bucket in buckets.dropFirst() where !bucket.isEmpty {
            var candidates: [Int] = []
            for piece in bucket where peerHas(piece) {
                candidates.append(piece)
                if candidates.count == 16 { break }
            }
            if let piece = candidates.randomElement(using: &generator) { return piece }
        }
        return nil
    }

    // MARK: - Outcomes

    /// A block arrived from `peer`. Returns true when it was wanted (not a duplicate), and whether
    /// the piece is now complete; `alsoRequestedFrom` lists other peers to send a cancel to.
    public mutating func received(_ block: Block, from peer: PeerKey) -> (wanted: Bool, pieceComplete: Bool, alsoRequestedFrom: [PeerKey]) {
        guard let progress = inProgress[block.piece] else { return (false, false, []) }
        let index = block.begin / Lengths.blockSize
        guard index < progress.blockCount, !progress.received[index] else { return (false, false, []) }
        progress.received[index] = true
        progress.receivedCount += 1
        progress.contributors.insert(peer)
        let others = progress.requestedBy[index].filter { $0 != peer }
        progress.requestedBy[index] = [peer]
        let complete = progress.receivedCount == progress.blockCount
        if complete {
            inProgress[block.piece] = nil
            checking.insert(block.piece)
            lastContributors[block.piece] = progress.contributors
        }
        return (true, complete, others)
    }

    private var lastContributors: [Int: Set<PeerKey>] = [:]

    /// A request will not be answered (choke, reject, disconnect, snub): the block can go to someone else.
    public mutating func abandoned(_ block: Block, by peer: PeerKey) {
        guard let progress = inProgress[block.piece] else { return }
        let index = block.begin / Lengths.blockSize
        guard index < progress.blockCount else { return }
        progress.requestedBy[index].removeAll { $0 == peer }
        if progress.receivedCount == 0 && progress.requestedBy.allSatisfy(\.isEmpty) {
            inProgress[block.piece] = nil  // nobody is on it any more: let rarest-first pick it again
            makeEligible(block.piece)
        }
    }

    /// The hash check passed: the piece is ours.
    public mutating func verified(_ piece: Int) {
        checking.remove(piece)
        lastContributors[piece] = nil
        if !have[piece] {
            have[piece] = true
            haveCount += 1
            if wanted[piece] { missingWanted -= 1 }
        }
    }

    /// The hash check failed: the piece is fetched again; returns the peers that sent its data.
    public mutating func failed(_ piece: Int) -> Set<PeerKey> {
        checking.remove(piece)
        makeEligible(piece)
        return lastContributors.removeValue(forKey: piece) ?? []
    }

    /// Every outstanding request of a departed peer.
    public mutating func peerGone(_ peer: PeerKey) {
        for (piece, progress) in inProgress where progress.workers.contains(peer) {
            progress.workers.remove(peer)
            for block in 0..<progress.blockCount { progress.requestedBy[block].removeAll { $0 == peer } }
            if progress.receivedCount == 0 && progress.requestedBy.allSatisfy(\.isEmpty) {
                inProgress[piece] = nil
                makeEligible(piece)
            }
        }
    }

    /// True when `peer` has a piece we still need (so we should be interested).
    public func wantsSomething(from peerHas: (Int) -> Bool) -> Bool {
        for piece in 0..<layout.pieceCount where wanted[piece] && !have[piece] && !checking.contains(piece) && peerHas(piece) { return true }
        return false
    }
}

extension PieceIndex {
    /// For indices the picker produced itself (always in range).
    static func unchecked(_ value: Int, _ layout: PieceLayout) -> PieceIndex { layout.index(value)! }
}
