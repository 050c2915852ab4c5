/// Spans of pieces (whole pieces up to 256 KiB) read for uploading, kept for the blocks that follow:
/// peers ask for a piece block by block, so the first request in a span reads all of it off the loop
/// and the others are served from memory on the loop, without a disk read or a thread hop each. Least recently used pieces go
/// first once `capacity` bytes are held. No I/O.
struct UploadCache {
    let capacity: Int
    private var pieces: [Int: [UInt8]] = [:]
    /// Least recently used first.
    private var order: [Int] = []
    private var held = 0
    /// Pieces being read now.
    private(set) var reading: Set<Int> = []
    /// Evicted pieces' storage, read into again: fresh memory costs a page fault per 4 KiB on first
    /// touch (1–3 ms per MiB measured here, more than sending it), reused memory none.
    private var spares: [[UInt8]] = []

    /// Holds 4 MiB (at least two spans). Small on purpose: every byte held was fresh memory once, and
    /// a span evicted is read again from the page cache for little; its storage is reused.
    init(spanLength: Int) { capacity = max(4 << 20, 2 * spanLength) }

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
            guard let evicted = pieces.removeValue(forKey: oldest) else { continue }
            held -= evicted.count
            if spares.count < 8 { spares.append(evicted) }
        }
    }

    /// Storage for reading a piece of `length` bytes: an evicted piece's when one fits.
    mutating func buffer(length: Int) -> [UInt8] {
        if let at = spares.firstIndex(where: { $0.count == length }) { return spares.remove(at: at) }
        return [UInt8](repeating: 0, count: length)
    }

    var heldBytes: Int { held }
}
