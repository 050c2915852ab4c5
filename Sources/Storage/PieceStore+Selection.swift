import Metainfo

extension PieceStore {
    /// When the selection changes between runs, files move between their own paths and the parts file:
    /// each piece touching a moved file is read where `old` kept it and, when `trusted` names it or it
    /// passes `check` (its hash), written where this store keeps it, so no good byte is fetched again.
    /// Returns the pieces moved (good here now), the trusted pieces that could not be read whole (to be
    /// fetched again), and the bytes written.
    public func adopt(from old: PieceStore, trusting trusted: Bitfield,
                      check: (PieceIndex, [UInt8]) -> Bool) throws(StorageError) -> (moved: [Int], lost: [Int], bytes: Int64) {
        let changed = layout.files.indices.filter { paths[$0] != old.paths[$0] || bases[$0] != old.bases[$0] }
        guard !changed.isEmpty else { return ([], [], 0) }
        var touched = Set<Int>()
        for file in changed { touched.formUnion(layout.pieceRange(ofFile: file)) }
        var moved: [Int] = [], lost: [Int] = []
        var bytes: Int64 = 0
        for raw in touched.sorted() {
            guard let piece = layout.pieces.index(raw) else { continue }
            guard let data = try old.readPiece(piece) else {
                if trusted[raw] { lost.append(raw) }
                continue
            }
            guard trusted[raw] || check(piece, data) else { continue }
            try writePiece(piece, data)
            moved.append(raw)
            bytes += Int64(data.count)
        }
        try flush()
        return (moved, lost, bytes)
    }
}
