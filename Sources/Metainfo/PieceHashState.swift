import Hashing

/// What one piece is hashed with: SHA-1 over all of it (v1), a BEP 52 merkle root over its file
/// bytes (v2), or both (hybrid).
public struct PieceHashPlan: Sendable, Equatable {
    /// Bytes of the piece in the stream.
    public var length: Int
    public var sha1: Bool
    /// Bytes at the start of the piece that the v2 tree covers (the rest is pad); 0 without v2.
    public var v2Length: Int
    /// Width of the piece's tree in 16 KiB leaves (a power of two), the missing leaves being zeros:
    /// a full piece's for pieces of files longer than a piece, else the file's own.
    public var v2Leaves: Int

    public init(length: Int, sha1: Bool, v2Length: Int = 0, v2Leaves: Int = 0) {
        self.length = length
        self.sha1 = sha1
        self.v2Length = v2Length
        self.v2Leaves = v2Leaves
    }

    /// BEP 52's leaf: the SHA-256 of each 16 KiB block.
    public static let leafSize = 16 * 1024

    /// The smallest power of two at least `count` (the width of a tree over `count` leaves).
    public static func treeWidth(_ count: Int) -> Int {
        var width = 1
        while width < count { width <<= 1 }
        return width
    }
}

/// One piece being hashed as its bytes stream past, in any chunking: SHA-1 and the v2 leaves from the
/// same pass over each byte. Two pieces can be advanced together (`update(_:_:_:_:)`) so the SHA
/// unit runs two chains at once.
struct PieceHashState {
    let plan: PieceHashPlan
    private var sha1 = SHA1()
    /// The leaf being filled; a fresh hasher whenever `inLeaf` is 0.
    private var leaf = SHA256()
    private var inLeaf = 0
    private(set) var fed = 0
    /// Digests of the finished leaves, 32 bytes each.
    private var leaves: [UInt8] = []

    init(_ plan: PieceHashPlan) {
        self.plan = plan
        if plan.v2Length > 0 { leaves.reserveCapacity(max(plan.v2Leaves, 1) * 32) }
    }

    private static let leafSize = PieceHashPlan.leafSize

    /// Bytes from here to the end of the current leaf, or 0 past the tree.
    private var leafRoom: Int { fed < plan.v2Length ? min(Self.leafSize - inLeaf, plan.v2Length - fed) : 0 }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var position = 0
        while position < bytes.count {
            let left = bytes.count - position
            let room = leafRoom
            if room == 0 {  // past the tree: the pad part of a hybrid piece, or all of a v1 one
                if plan.sha1 { sha1.update(Self.slice(bytes, position, left)) }
                fed += left
                return
            }
            // v2 only and whole leaves at hand: hash sixteen, or two, side by side.
            let wholeLeaves = inLeaf == 0 ? min(left, plan.v2Length - fed) / Self.leafSize : 0
            if !plan.sha1 && wholeLeaves >= 16 {
                let x = Self.slice(bytes, position, 8 * Self.leafSize), y = Self.slice(bytes, position + 8 * Self.leafSize, 8 * Self.leafSize)
                withLeafDigests(16) { Interleaved.sha256(eighthsOf: x, y, into: $0) }
                fed += 16 * Self.leafSize
                position += 16 * Self.leafSize
                continue
            }
            if !plan.sha1 && wholeLeaves >= 2 {
                var first = SHA256(), second = SHA256()
                Interleaved.update(&first, Self.slice(bytes, position, Self.leafSize),
                                   &second, Self.slice(bytes, position + Self.leafSize, Self.leafSize))
                leaves.append(contentsOf: first.finalize())
                leaves.append(contentsOf: second.finalize())
                fed += 2 * Self.leafSize
                position += 2 * Self.leafSize
                continue
            }
            let take = min(room, left)
            let chunk = Self.slice(bytes, position, take)
            if plan.sha1 { Interleaved.update(&sha1, &leaf, chunk) } else { leaf.update(chunk) }
            advance(take)
            position += take
        }
    }

    /// `a.update(x); b.update(y)`, the two pieces' chains interleaved where both need the same hashes.
    static func update(_ a: inout PieceHashState, _ x: UnsafeRawBufferPointer, _ b: inout PieceHashState, _ y: UnsafeRawBufferPointer) {
        let joint = min(x.count, y.count)
        var position = 0
        while position < joint {
            // Eight whole leaves in each, hashed as sixteen lanes (with both SHA-1 chains for hybrid).
            let eight = 8 * leafSize
            if a.plan.sha1 == b.plan.sha1, joint - position >= eight, a.inLeaf == 0, b.inLeaf == 0,
               a.plan.v2Length - a.fed >= eight, b.plan.v2Length - b.fed >= eight {
                let chunkA = slice(x, position, eight), chunkB = slice(y, position, eight)
                withUnsafeTemporaryAllocation(byteCount: 16 * 32, alignment: 16) { digests in
                    if a.plan.sha1 {
                        Interleaved.update(&a.sha1, chunkA, &b.sha1, chunkB, sha256OfEighthsInto: digests.baseAddress!)
                    } else {
                        Interleaved.sha256(eighthsOf: chunkA, chunkB, into: digests.baseAddress!)
                    }
                    a.leaves.append(contentsOf: UnsafeRawBufferPointer(rebasing: digests[..<256]))
                    b.leaves.append(contentsOf: UnsafeRawBufferPointer(rebasing: digests[256...]))
                }
                a.fed += eight
                b.fed += eight
                position += eight
                continue
            }
            let roomA = a.leafRoom, roomB = b.leafRoom
            var step = joint - position
            if roomA > 0 { step = min(step, roomA) }
            if roomB > 0 { step = min(step, roomB) }
            let chunkA = slice(x, position, step), chunkB = slice(y, position, step)
            position += step
            switch (roomA > 0, a.plan.sha1, roomB > 0, b.plan.sha1) {
            case (true, true, true, true): Interleaved.update(&a.sha1, &a.leaf, chunkA, &b.sha1, &b.leaf, chunkB)
            case (true, false, true, false): Interleaved.update(&a.leaf, chunkA, &b.leaf, chunkB)
            case (false, true, false, true): Interleaved.update(&a.sha1, chunkA, &b.sha1, chunkB)
            default:
                a.update(chunkA)
                b.update(chunkB)
                continue
            }
            a.advance(step)
            b.advance(step)
        }
        a.update(slice(x, joint, x.count - joint))
        b.update(slice(y, joint, y.count - joint))
    }

    /// Counts `count` bytes hashed into the current leaf (at most `leafRoom` when in the tree).
    private mutating func advance(_ count: Int) {
        if fed < plan.v2Length {
            inLeaf += count
            if inLeaf == Self.leafSize { closeLeaf() }
        }
        fed += count
    }

    /// Appends `count` leaf digests that `body` writes.
    private mutating func withLeafDigests(_ count: Int, _ body: (UnsafeMutableRawPointer) -> Void) {
        withUnsafeTemporaryAllocation(byteCount: count * 32, alignment: 16) { digests in
            body(digests.baseAddress!)
            leaves.append(contentsOf: UnsafeRawBufferPointer(digests))
        }
    }

    private mutating func closeLeaf() {
        leaves.append(contentsOf: leaf.finalize())
        leaf = SHA256()
        inLeaf = 0
    }

    /// Writes the SHA-1 (20 bytes, when planned) and the v2 piece hash (32 bytes, when planned).
    consuming func finish(sha1 sha1Out: UnsafeMutableRawPointer, v2 v2Out: UnsafeMutableRawPointer) {
        if plan.sha1 {
            sha1.finalize().withUnsafeBytes { sha1Out.copyMemory(from: $0.baseAddress!, byteCount: 20) }
        }
        if plan.v2Length > 0 {
            if inLeaf > 0 { closeLeaf() }
            MerkleRoot.compute(&leaves, width: plan.v2Leaves, into: v2Out)
        }
    }

    static func slice(_ bytes: UnsafeRawBufferPointer, _ from: Int, _ count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[from..<from + count])
    }
}

/// BEP 52 Merkle roots over 32-byte leaves: shared by `create`/`verify` (here) and the downloader's
/// piece checks (Storage).
public enum MerkleRoot {
    /// The root of the tree over `leaves` (32 bytes each) padded with zero leaves to `width`, computed in place.
    public static func compute(_ leaves: inout [UInt8], width: Int, into out: UnsafeMutableRawPointer) {
        guard leaves.count <= width * 32 else {  // more data than the tree holds: a root nothing matches
            out.initializeMemory(as: UInt8.self, repeating: 0xFF, count: 32)
            return
        }
        leaves.append(contentsOf: repeatElement(0, count: width * 32 - leaves.count))
        var count = width
        leaves.withUnsafeMutableBytes { level in
            while count > 1 {
                for pair in 0..<count / 2 {
                    let digest = SHA256.hash(UnsafeRawBufferPointer(rebasing: level[pair * 64..<pair * 64 + 64]))
                    digest.withUnsafeBytes { (level.baseAddress! + pair * 32).copyMemory(from: $0.baseAddress!, byteCount: 32) }
                }
                count /= 2
            }
            out.copyMemory(from: level.baseAddress!, byteCount: 32)
        }
    }
}
