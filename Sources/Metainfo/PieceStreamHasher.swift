import Dispatch
import Glibc
import Hashing
import Synchronization

/// Hashes a torrent's content in one pass for `tt create`: the files (and BEP 47 pad zeros) read as one
/// stream of pieces, in large reads into two alternating batch buffers — the next batch is read while
/// this one is hashed on all cores — and each piece hashed once for every version wanted: SHA-1 (v1)
/// and the BEP 52 piece hash, a SHA-256 merkle root over its 16 KiB blocks (v2), from the same bytes.
struct PieceStreamHasher {
    /// A stretch of the stream: a file's bytes, or zeros (a pad file) when `file` is nil.
    struct Segment {
        var file: TorrentCreator.InputFile?
        var length: Int64
    }

    /// For v2: which file a piece holds (pieces are file-aligned when v2 is wanted) and how.
    struct V2Piece {
        /// Bytes of file data at the start of the piece (the rest is pad).
        var dataLength: Int
        /// The file fits in one piece: its root is over its own leaves, not a full piece's width.
        var wholeSmallFile: Bool
    }

    struct Result {
        /// 20 bytes per piece (empty without v1).
        var sha1: [UInt8]
        /// 32 bytes per piece, the v2 piece hash or, for a file of at most one piece, its pieces root.
        var v2: [[UInt8]]
    }

    static let blockSize = 16 * 1024
    /// Two batches of about this many bytes are in memory at once. Small on purpose: fresh memory costs
    /// a page fault per 4 KiB on first touch (about 3 ms per MiB measured here), more than hashing it.
    static let batchBytes = 4 << 20

    let segments: [Segment]
    let pieceLength: Int
    let totalLength: Int64
    /// nil without v2.
    let v2Pieces: [V2Piece]?
    let wantsV1: Bool

    func run(counter: ProgressCounter) throws(TorrentCreator.CreateError) -> Result {
        let pieceCount = Int((totalLength + Int64(pieceLength) - 1) / Int64(pieceLength))
        var sha1 = [UInt8](repeating: 0, count: wantsV1 ? pieceCount * 20 : 0)
        var v2 = [[UInt8]](repeating: [], count: v2Pieces == nil ? 0 : pieceCount)
        let batchPieces = max(2, Self.batchBytes / pieceLength)
        var buffers = [[UInt8](repeating: 0, count: batchPieces * pieceLength), [UInt8](repeating: 0, count: batchPieces * pieceLength)]
        let reader = StreamReader(segments: segments)
        let readError = Mutex<TorrentCreator.CreateError?>(nil)
        let group = DispatchGroup()

        func bytes(ofBatchAt piece: Int) -> Int {
            let count = min(batchPieces, pieceCount - piece)
            return Int(min(Int64(count * pieceLength), totalLength - Int64(piece) * Int64(pieceLength)))
        }
        func startRead(into slot: Int, at piece: Int) {
            guard piece < pieceCount else { return }
            let count = bytes(ofBatchAt: piece)
            nonisolated(unsafe) let target = buffers[slot].withUnsafeMutableBytes { $0 }
            nonisolated(unsafe) let reader = reader
            DispatchQueue.global().async(group: group) {
                do throws(TorrentCreator.CreateError) {
                    try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: target[0..<count]))
                } catch {
                    readError.withLock { $0 = $0 ?? error }
                }
            }
        }

        var piece = 0
        var slot = 0
        startRead(into: 0, at: 0)
        while piece < pieceCount {
            group.wait()
            if let error = readError.withLock({ $0 }) { throw error }
            let count = min(batchPieces, pieceCount - piece)
            let length = bytes(ofBatchAt: piece)
            startRead(into: 1 - slot, at: piece + count)
            hashBatch(buffers[slot], firstPiece: piece, count: count, bytes: length, sha1: &sha1, v2: &v2)
            counter.add(Int64(length) * Int64((wantsV1 ? 1 : 0) + (v2Pieces == nil ? 0 : 1)))
            piece += count
            slot = 1 - slot
        }
        group.wait()
        if let error = readError.withLock({ $0 }) { throw error }
        return Result(sha1: sha1, v2: v2)
    }

    /// Each piece on its own worker, writing only its own outputs.
    private func hashBatch(_ batch: [UInt8], firstPiece: Int, count: Int, bytes: Int, sha1: inout [UInt8], v2: inout [[UInt8]]) {
        let pieceLength = self.pieceLength
        let wantsV1 = self.wantsV1
        let v2Pieces = self.v2Pieces
        let roots = Mutex<[(Int, [UInt8])]>([])
        batch.withUnsafeBytes { rawBatch in
            sha1.withUnsafeMutableBytes { out in
                nonisolated(unsafe) let raw = rawBatch
                nonisolated(unsafe) let sha1Base = out.baseAddress
                DispatchQueue.concurrentPerform(iterations: count) { index in
                    let from = index * pieceLength
                    let length = min(pieceLength, bytes - from)
                    let piece = UnsafeRawBufferPointer(rebasing: raw[from..<from + length])
                    if wantsV1, let sha1Base {
                        let digest = SHA1.hash(piece)
                        digest.withUnsafeBytes { (sha1Base + (firstPiece + index) * 20).copyMemory(from: $0.baseAddress!, byteCount: 20) }
                    }
                    if let layout = v2Pieces?[firstPiece + index] {
                        let root = Self.v2Hash(UnsafeRawBufferPointer(rebasing: piece[0..<layout.dataLength]), pieceLength: pieceLength,
                                               wholeSmallFile: layout.wholeSmallFile)
                        roots.withLock { $0.append((firstPiece + index, root)) }
                    }
                }
            }
        }
        for (index, root) in roots.withLock({ $0 }) { v2[index] = root }
    }

    /// The BEP 52 hash of one piece's data: the merkle root of its 16 KiB blocks' SHA-256, padded with
    /// zero leaves to a full piece (or, for a file of at most one piece, to the next power of two).
    static func v2Hash(_ data: UnsafeRawBufferPointer, pieceLength: Int, wholeSmallFile: Bool) -> [UInt8] {
        var leaves: [[UInt8]] = []
        leaves.reserveCapacity((data.count + blockSize - 1) / blockSize)
        var from = 0
        while from < data.count {
            let to = min(from + blockSize, data.count)
            leaves.append(SHA256.hash(UnsafeRawBufferPointer(rebasing: data[from..<to])))
            from = to
        }
        let width = wholeSmallFile ? TorrentCreator.nextPowerOfTwo(leaves.count) : pieceLength / blockSize
        return TorrentCreator.merkleRoot(leaves, width: width)
    }

    /// Reads the segments in order as one stream: large `read(2)`s straight into the caller's buffer.
    /// Used from one reading thread at a time (the batches are read in order).
    final class StreamReader: @unchecked Sendable {
        private let segments: [Segment]
        private var index = 0
        private var offsetInSegment: Int64 = 0
        private var fd: Int32 = -1

        init(segments: [Segment]) { self.segments = segments }

        deinit { if fd >= 0 { close(fd) } }

        func read(into buffer: UnsafeMutableRawBufferPointer) throws(TorrentCreator.CreateError) {
            var filled = 0
            while filled < buffer.count {
                guard index < segments.count else {
                    throw .unreadable(segments.last?.file?.diskPath ?? "input", "file shrank while hashing")
                }
                let segment = segments[index]
                let wanted = Int(min(Int64(buffer.count - filled), segment.length - offsetInSegment))
                if wanted == 0 { advance(); continue }
                if let file = segment.file {
                    if fd < 0 {
                        fd = open(file.diskPath, O_RDONLY | O_CLOEXEC)
                        guard fd >= 0 else { throw .unreadable(file.diskPath, "cannot open for reading (\(String(cString: strerror(errno))))") }
                        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
                    }
                    let count = Glibc.read(fd, buffer.baseAddress! + filled, wanted)
                    if count < 0 {
                        if errno == EINTR { continue }
                        throw .unreadable(file.diskPath, String(cString: strerror(errno)))
                    }
                    guard count > 0 else { throw .unreadable(file.diskPath, "file shrank while hashing") }
                    filled += count
                    offsetInSegment += Int64(count)
                } else {
                    (buffer.baseAddress! + filled).initializeMemory(as: UInt8.self, repeating: 0, count: wanted)
                    filled += wanted
                    offsetInSegment += Int64(wanted)
                }
                if offsetInSegment == segment.length { advance() }
            }
        }

        private func advance() {
            if fd >= 0 { close(fd) }
            fd = -1
            index += 1
            offsetInSegment = 0
        }
    }
}
