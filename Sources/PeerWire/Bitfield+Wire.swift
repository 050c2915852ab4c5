import Metainfo

extension Bitfield {
    /// Validates a received `bitfield` message: exact length and spare bits clear.
    public static func decoding(_ bytes: [UInt8], pieceCount: Int) throws(PeerWireError) -> Bitfield {
        if let problem = Bitfield.problem(bytes: bytes, pieceCount: pieceCount) { throw .badBitfield(problem) }
        return Bitfield(bytes: bytes, pieceCount: pieceCount)!
    }
}
