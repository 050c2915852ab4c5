import Bencode
import Hashing
import Metainfo

/// A single-file torrent and its data, made in memory from a seed: the same seed, the same bytes.
struct SimulatedTorrent {
    let data: [UInt8]
    let bytes: [UInt8]
    let torrent: Torrent
    let pieceLength: Int

    var pieceCount: Int { torrent.pieceCount }
    var infoHash: [UInt8] { torrent.infoHashes.v1! }

    init(length: Int, pieceLength: Int, seed: UInt64, name: String = "simulated.bin") throws {
        var random = SeededGenerator(seed: seed)
        var data = [UInt8](repeating: 0, count: length)
        data.withUnsafeMutableBytes { raw in
            let words = raw.count / 8
            for index in 0..<words { raw.storeBytes(of: random.next(), toByteOffset: index * 8, as: UInt64.self) }
            var tail = random.next()
            for index in words * 8..<raw.count {
                raw[index] = UInt8(truncatingIfNeeded: tail)
                tail >>= 8
            }
        }
        var hashes: [UInt8] = []
        for start in stride(from: 0, to: length, by: pieceLength) {
            hashes += data[start..<min(length, start + pieceLength)].withUnsafeBytes { SHA1.hash($0) }
        }
        let info = BencodeValue.dict([
            ("length", .integer(Int64(length))),
            ("name", .string(Array(name.utf8))),
            ("piece length", .integer(Int64(pieceLength))),
            ("pieces", .string(hashes)),
        ])
        let bytes = BencodeValue.dict([("info", info)]).encoded()
        self.data = data
        self.bytes = bytes
        self.torrent = try Torrent(bytes: bytes)
        self.pieceLength = pieceLength
    }

    func length(of piece: Int) -> Int { min(pieceLength, data.count - piece * pieceLength) }

    /// The bytes of a block, or nil when the request does not fit the torrent.
    func block(piece: Int, begin: Int, length: Int) -> [UInt8]? {
        guard piece >= 0, piece < pieceCount, begin >= 0, length > 0, begin + length <= self.length(of: piece) else { return nil }
        let start = piece * pieceLength + begin
        return Array(data[start..<start + length])
    }

    func piece(_ piece: Int) -> ArraySlice<UInt8> {
        data[piece * pieceLength..<piece * pieceLength + length(of: piece)]
    }
}
