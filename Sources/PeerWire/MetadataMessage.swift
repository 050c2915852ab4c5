import Bencode

/// BEP 9 `ut_metadata` messages: the info dictionary fetched from peers in 16 KiB pieces.
public enum MetadataMessage: Hashable, Sendable {
    case request(piece: Int)
    case data(piece: Int, totalSize: Int, bytes: [UInt8])
    case reject(piece: Int)

    public static let pieceSize = 16 * 1024
    /// Larger info dictionaries are refused (a hostile peer could announce gigabytes).
    public static let maxMetadataSize = 16 << 20

    /// The extended-message payload (without the extension id byte).
    public func encoded() -> [UInt8] {
        switch self {
        case .request(let piece):
            return BencodeValue.dict([("msg_type", .integer(0)), ("piece", .integer(Int64(piece)))]).encoded()
        case .data(let piece, let total, let bytes):
            return BencodeValue.dict([("msg_type", .integer(1)), ("piece", .integer(Int64(piece))),
                                      ("total_size", .integer(Int64(total)))]).encoded() + bytes
        case .reject(let piece):
            return BencodeValue.dict([("msg_type", .integer(2)), ("piece", .integer(Int64(piece)))]).encoded()
        }
    }

    /// Parses a payload: a bencoded dictionary, followed by the piece's bytes for `data`.
    public init(decoding payload: [UInt8]) throws(PeerWireError) {
        let header: BencodeValue
        let length: Int
        do {
            (header, length) = try BencodeDecoder(strictness: .lenient, maxDepth: 4).decodePrefix(payload[...])
        } catch {
            throw .badExtensionHandshake("ut_metadata message is not bencode: \(error)")
        }
        guard let type = header["msg_type"]?.integerValue, let piece = header["piece"]?.integerValue,
              piece >= 0, piece < Int64(MetadataMessage.maxMetadataSize / MetadataMessage.pieceSize) else {
            throw .badExtensionHandshake("ut_metadata message without a valid msg_type and piece")
        }
        switch type {
        case 0: self = .request(piece: Int(piece))
        case 1:
            guard let total = header["total_size"]?.integerValue, total > 0, total <= Int64(MetadataMessage.maxMetadataSize) else {
                throw .badExtensionHandshake("ut_metadata data without a valid total_size")
            }
            self = .data(piece: Int(piece), totalSize: Int(total), bytes: Array(payload[length...]))
        case 2: self = .reject(piece: Int(piece))
        default: throw .badExtensionHandshake("unknown ut_metadata msg_type \(type)")
        }
    }
}
