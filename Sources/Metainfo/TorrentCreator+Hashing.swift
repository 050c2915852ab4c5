import FoundationEssentials
import Glibc
import Synchronization

extension TorrentCreator {
    /// For v2: how much of a piece is its file's data (pieces are file-aligned when v2 is wanted).
    struct V2Piece {
        /// Bytes of file data at the start of the piece (the rest is pad).
        var dataLength: Int
        /// The file fits in one piece: its root is over its own leaves, not a full piece's width.
        var wholeSmallFile: Bool
    }

    /// The stream `create` hashes: the files back to back, with pad zeros between them for v2 and hybrid.
    struct CreatePlanning: PieceHashPlanning {
        let pieceLength: Int
        let totalLength: Int64
        let wantsV1: Bool
        /// nil without v2.
        let v2Pieces: [V2Piece]?

        var pieceCount: Int { Int((totalLength + Int64(pieceLength) - 1) / Int64(pieceLength)) }

        func offset(of piece: Int) -> Int64 { Int64(piece) * Int64(pieceLength) }

        func plan(of piece: Int) -> PieceHashPlan {
            let length = Int(min(Int64(pieceLength), totalLength - offset(of: piece)))
            guard let v2 = v2Pieces?[piece] else { return PieceHashPlan(length: length, sha1: wantsV1) }
            let leaves = (v2.dataLength + PieceHashPlan.leafSize - 1) / PieceHashPlan.leafSize
            return PieceHashPlan(length: length, sha1: wantsV1, v2Length: v2.dataLength,
                                 v2Leaves: v2.wholeSmallFile ? PieceHashPlan.treeWidth(leaves) : pieceLength / PieceHashPlan.leafSize)
        }
    }

    /// Hashes every piece: 20 bytes of SHA-1 per piece (empty without v1) and 32 bytes of v2 piece hash
    /// per piece (empty without v2; for a file of at most one piece, its pieces root).
    static func hashPieces(_ planning: CreatePlanning, source: PieceSource,
                           counter: ProgressCounter) throws(CreateError) -> (sha1: [UInt8], v2: [UInt8]) {
        let count = planning.pieceCount
        let versions = (planning.wantsV1 ? 1 : 0) + (planning.v2Pieces == nil ? 0 : 1)
        let collected = Mutex<(sha1: [UInt8], v2: [UInt8], shortfall: Shortfall?)>(
            ([UInt8](repeating: 0, count: planning.wantsV1 ? count * 20 : 0),
             [UInt8](repeating: 0, count: planning.v2Pieces == nil ? 0 : count * 32), nil))
        let pipeline = PieceHashPipeline(source: source, planning: planning,
                                         options: .init(workers: ProcessInfo.processInfo.activeProcessorCount))
        do {
            try pipeline.run(pipeline.jobs()) { results in
                let job = results.job
                let kept = collected.withLock { state -> Bool in
                    if let shortfall = results.shortfall {
                        state.shortfall = state.shortfall ?? shortfall
                        return false
                    }
                    if !state.sha1.isEmpty {
                        state.sha1.replaceSubrange(job.firstPiece * 20..<(job.firstPiece + job.pieceCount) * 20, with: results.sha1)
                    }
                    if !state.v2.isEmpty {
                        state.v2.replaceSubrange(job.firstPiece * 32..<(job.firstPiece + job.pieceCount) * 32, with: results.v2)
                    }
                    return true
                }
                if kept { counter.add(job.length * Int64(versions)) }
                return kept
            }
        } catch {
            throw .unreadable(error.path, error.operation == "open" ? "cannot open for reading (\(error.reason))" : error.reason)
        }
        let final = collected.withLock { $0 }
        if let shortfall = final.shortfall {
            throw .unreadable(shortfall.path, shortfall.absent ? "cannot open for reading (\(String(cString: strerror(ENOENT))))" : "file shrank while hashing")
        }
        return (final.sha1, final.v2)
    }
}
