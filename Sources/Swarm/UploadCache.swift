/// Whole pieces read for uploading, kept for the blocks that follow: peers ask for a piece block by
/// block, so the first request of a piece reads all of it off the loop and the others are served
/// from memory on the loop, without a disk read or a thread hop each. Least recently used pieces go
/// first once `capacity` bytes are held. No I/O.
struct UploadCache {
    let capacity: Int
    private var pieces: [Int: [UInt8]] = [:]
    /// Least recently used first.
    private var order: [Int] = []
    private var held = 0
    /// Pieces being read now.
    private(set) var reading: Set<Int> = []

    /// Holds at least two pieces, and 16 MiB when pieces are small.
    init(pieceLength: Int) { capacity = max(16 << 20, 2 * pieceLength) }

    /// The piece's bytes when held (and marks it recently used).
    mutating func bytes(of piece: Int) -> [UInt8]? {
        guard let bytes = pieces[piece] else { return nil }
        if order.last != piece, let at = order.firstIndex(of: piece) { order.remove(at: at); order.append(piece) }
        return bytes
    }

    /// True when the caller should read `piece` now (it is neither held nor being read).
    mutating func beginRead(_ piece: Int) -> Bool {
        guard pieces[piece] == nil, !reading.contains(piece) else { return false }
        reading.insert(piece)
        return true
    }

    /// A read ended; `bytes` nil when it failed.
    mutating func endRead(_ piece: Int, bytes: [UInt8]?) {
        reading.remove(piece)
        guard let bytes, pieces[piece] == nil else { return }
        pieces[piece] = bytes
        order.append(piece)
        held += bytes.count
        while held > capacity, order.count > 1 {
            let oldest = order.removeFirst()
            held -= pieces.removeValue(forKey: oldest)?.count ?? 0
        }
    }

    var heldBytes: Int { held }
}
