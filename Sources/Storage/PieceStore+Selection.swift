import Metainfo

extension PieceStore {
    /// When the selection changes between runs, files move between their own paths and the parts file:
    /// the verified `pieces` that touch a moved file are read where `old` kept them and written where this
    /// store keeps them, so no verified byte is fetched again. Returns the pieces that could not be read
    /// whole (to be fetched again) and the bytes moved.
    public func adopt(_ pieces: Bitfield, from old: PieceStore) throws(StorageError) -> (lost: [Int], bytes: Int64) {
        let moved = layout.files.indices.filter { paths[$0] != old.paths[$0] || bases[$0] != old.bases[$0] }
        guard !moved.isEmpty else { return ([], 0) }
        var touched = Set<Int>()
        for file in moved { touched.formUnion(layout.pieceRange(ofFile: file)) }
        var lost: [Int] = []
        var bytes: Int64 = 0
        for raw in touched.sorted() where pieces[raw] {
            guard let piece = layout.pieces.index(raw) else { continue }
            guard let data = try old.readPiece(piece) else { lost.append(raw); continue }
            try writePiece(piece, data)
            bytes += Int64(data.count)
        }
        try flush()
        return (lost, bytes)
    }
}
