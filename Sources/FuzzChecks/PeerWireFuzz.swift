import Metainfo
import PeerWire

extension FuzzTarget {
    /// The peer wire: frames and the handshake through `FrameDecoder` (fed in several
    /// chunkings), extension handshakes, BEP 9 metadata messages and bitfields.
    ///
    /// The first byte picks what the rest is: 0 a stream after the handshake, 4 a stream
    /// starting with one, 1 an extension handshake, 2 a metadata message, 3 a bitfield (two
    /// more bytes give the piece count).
    public static let peerWire = FuzzTarget(
        name: "peer-wire", summary: "peer wire frames, handshake, extension handshake, BEP 9 metadata messages, bitfields",
        exercise: { bytes in try exercisePeerWire(bytes) },
        seeds: {
            let handshake = Handshake(reserved: ReservedBits(bytes: [0, 0, 0, 0, 0, 0x10, 0, 5]), infoHash: Array(repeating: 7, count: 20),
                                      peerID: PeerID(bytes: Array("-TT0100-abcdefghijkl".utf8)))
            let messages: [PeerMessage] = [
                .keepAlive, .choke, .unchoke, .interested, .notInterested, .have(piece: 3), .bitfield([0xF0]),
                .request(BlockRequest(index: 1, begin: 16384, length: 16384)), .piece(index: 1, begin: 0, block: [1, 2, 3]),
                .cancel(BlockRequest(index: 1, begin: 0, length: 16384)), .port(6881), .suggest(piece: 2), .haveAll, .haveNone,
                .reject(BlockRequest(index: 0, begin: 0, length: 16384)), .allowedFast(piece: 9),
                ExtensionHandshake(messages: ["ut_metadata": 3, "ut_pex": 1], version: "tt 0.1", listenPort: 6881,
                                   yourIP: [127, 0, 0, 1], requestQueue: 250, metadataSize: 31235).message,
                .extended(id: 3, payload: MetadataMessage.data(piece: 0, totalSize: 5, bytes: [1, 2, 3, 4, 5]).encoded()),
            ]
            let stream = messages.flatMap { $0.encoded() }
            return [[0] + stream, [4] + handshake.encoded() + stream,
                    [1] + ExtensionHandshake(messages: ["ut_metadata": 2], metadataSize: 100).encoded(),
                    [2] + MetadataMessage.request(piece: 1).encoded(), [2] + MetadataMessage.reject(piece: 0).encoded(),
                    [2] + MetadataMessage.data(piece: 0, totalSize: 3, bytes: [9, 9, 9]).encoded(),
                    [3, 0, 12, 0xFF, 0xF0]]
        })
}

func exercisePeerWire(_ bytes: [UInt8]) throws {
    guard let mode = bytes.first else { return }
    let body = Array(bytes.dropFirst())
    switch mode & 3 {
    case 0: try checkFrames(body, expectingHandshake: mode & 4 != 0, chunkSizes: Array(body.prefix(8)))
    case 1: try checkExtensionHandshake(body)
    case 2: try checkMetadataMessage(body)
    default:
        guard body.count >= 2 else { return }
        let pieceCount = Int(body[0]) << 8 | Int(body[1])
        let bits = Array(body.dropFirst(2))
        guard let bitfield = try? Bitfield.decoding(bits, pieceCount: pieceCount) else { return }
        if bitfield.bytes != bits || bitfield.pieceCount != pieceCount { throw FuzzViolation("bitfield changed when decoded") }
        if bitfield.setCount > pieceCount { throw FuzzViolation("bitfield has more pieces than its count") }
    }
}

/// Decodes a stream fed in `chunks`: the frames, then the error that ended it (if any).
private func decodeFrames(_ bytes: [UInt8], chunks: [Int], expectingHandshake: Bool, fastPieces: Bool) -> ([PeerFrame], String?) {
    var decoder = FrameDecoder(expectingHandshake: expectingHandshake)
    var frames: [PeerFrame] = []
    do {
        for chunk in Chunkings.split(bytes, chunks) {
            decoder.append(chunk)
            while true {
                if fastPieces {
                    var block: PeerFrame?
                    let took = decoder.nextPieceBlock { index, begin, raw in
                        block = .message(.piece(index: index, begin: begin, block: Array(raw)), wireLength: 13 + raw.count)
                    }
                    if took, let block { frames.append(block); continue }
                }
                guard let frame = try decoder.next() else { break }
                frames.append(frame)
            }
        }
    } catch {
        return (frames, errorKind(error))
    }
    return (frames, nil)
}

private func checkFrames(_ bytes: [UInt8], expectingHandshake: Bool, chunkSizes: [UInt8]) throws {
    let (frames, error) = decodeFrames(bytes, chunks: [bytes.count], expectingHandshake: expectingHandshake, fastPieces: false)
    for chunks in Chunkings.all(bytes.count, sizes: chunkSizes).dropFirst() {
        for fast in [false, true] {
            let other = decodeFrames(bytes, chunks: chunks, expectingHandshake: expectingHandshake, fastPieces: fast)
            if other.0 != frames || other.1 != error {
                throw FuzzViolation("frames depend on how the stream is cut (\(chunks.count) chunks, fast path \(fast))")
            }
        }
    }
    // Every accepted frame is exactly what our encoder writes for it.
    var offset = 0
    for frame in frames {
        let encoded: [UInt8]
        switch frame {
        case .handshake(let handshake): encoded = handshake.encoded()
        case .message(let message, let wireLength):
            encoded = message.encoded()
            if encoded.count != wireLength { throw FuzzViolation("\(message.name): wire length \(wireLength), encodes to \(encoded.count)") }
            if case .extended(let id, let payload) = message {
                if id == 0 { try checkExtensionHandshake(payload) } else { try checkMetadataMessage(payload) }
            }
        }
        guard offset + encoded.count <= bytes.count, Array(bytes[offset..<(offset + encoded.count)]) == encoded else {
            throw FuzzViolation("a decoded frame does not encode to the bytes it came from at offset \(offset)")
        }
        offset += encoded.count
    }
}

private func checkExtensionHandshake(_ payload: [UInt8]) throws {
    guard let handshake = try? ExtensionHandshake(decoding: payload) else { return }
    guard let again = try? ExtensionHandshake(decoding: handshake.encoded()) else {
        throw FuzzViolation("an extension handshake we encoded does not decode")
    }
    if again != handshake { throw FuzzViolation("extension handshake decode → encode → decode changed it") }
    if let size = handshake.metadataSize, size < 0 { throw FuzzViolation("negative metadata_size accepted") }
}

private func checkMetadataMessage(_ payload: [UInt8]) throws {
    guard let message = try? MetadataMessage(decoding: payload) else { return }
    guard let again = try? MetadataMessage(decoding: message.encoded()) else {
        throw FuzzViolation("a metadata message we encoded does not decode")
    }
    if again != message { throw FuzzViolation("metadata message decode → encode → decode changed it") }
    if case .data(_, let total, _) = message, total > MetadataMessage.maxMetadataSize {
        throw FuzzViolation("metadata total_size \(total) above the limit accepted")
    }
}
