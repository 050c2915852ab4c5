import Bencode
import Metainfo
import Testing
@testable import PeerWire

/// Feeds `bytes` to a decoder in the given chunk sizes and collects every frame.
func decodeAll(_ bytes: [UInt8], chunks: [Int], handshake: Bool) throws -> [PeerFrame] {
    var decoder = FrameDecoder(expectingHandshake: handshake)
    var frames: [PeerFrame] = []
    var offset = 0
    var index = 0
    while offset < bytes.count {
        let size = min(chunks[index % chunks.count], bytes.count - offset)
        decoder.append(bytes[offset..<offset + size])
        offset += size
        index += 1
        while let frame = try decoder.next() { frames.append(frame) }
    }
    #expect(decoder.bufferedCount == 0)
    return frames
}

let sampleHash = (0..<20).map { UInt8($0) }
let samplePeerID = PeerID(bytes: Array("-LT2080-abcdefghijkl".utf8))

let everyMessage: [PeerMessage] = [
    .keepAlive, .choke, .unchoke, .interested, .notInterested, .have(piece: 7), .bitfield([0xFF, 0x80]),
    .request(BlockRequest(index: 1, begin: 16384, length: 16384)), .piece(index: 1, begin: 0, block: [1, 2, 3, 4, 5]),
    .cancel(BlockRequest(index: 2, begin: 0, length: 100)), .port(6881), .suggest(piece: 3), .haveAll, .haveNone,
    .reject(BlockRequest(index: 4, begin: 32768, length: 16384)), .allowedFast(piece: 9),
    .extended(id: 0, payload: ExtensionHandshake(messages: ["ut_metadata": 2], version: "tt 0.1.0").encoded()),
    .extended(id: 3, payload: [0x64, 0x65]),
]

@Suite struct HandshakeTests {
    @Test func roundTrip() throws {
        let handshake = Handshake(reserved: ReservedBits([ReservedBits.extensionProtocol, ReservedBits.fast]), infoHash: sampleHash,
                                  peerID: samplePeerID)
        let bytes = handshake.encoded()
        #expect(bytes.count == 68)
        #expect(bytes[0] == 19)
        #expect(Array(bytes[1..<20]) == Array("BitTorrent protocol".utf8))
        #expect(Array(bytes[20..<28]) == [0, 0, 0, 0, 0, 0x10, 0, 0x04])
        #expect(try Handshake(decoding: bytes) == handshake)
    }

    @Test func garbageIsRejectedAtTheFirstWrongByte() throws {
        var decoder = FrameDecoder(expectingHandshake: true)
        decoder.append(Array("HTTP/1.1 400".utf8))
        #expect(throws: PeerWireError.self) { try decoder.next() }
        // A correct prefix alone needs more bytes.
        var good = FrameDecoder(expectingHandshake: true)
        good.append(Handshake.prefix.prefix(10))
        #expect(try good.next() == nil)
    }

    @Test func reservedBitsByName() {
        var bits = ReservedBits(bytes: [0x80, 0, 0, 0, 0, 0x10, 0, 0x15])
        #expect(bits.names == ["extension_protocol", "fast", "dht", "v2_upgrade"])
        #expect(bits.unknownBits == [0])
        bits = ReservedBits(bytes: [0, 0, 0, 0, 0, 0x10, 0, 0x0D])   // libtorrent: ext, fast, dht + bit 60 (0x08)
        #expect(bits.supportsExtensions && bits.supportsFast && bits.contains(ReservedBits.dht))
        #expect(bits.unknownBits == [60])
    }
}

@Suite struct PeerIDTests {
    func name(_ text: String) -> String? {
        var bytes = Array(text.utf8)
        while bytes.count < 20 { bytes.append(0x41) }
        return PeerID(bytes: Array(bytes.prefix(20))).client
    }

    @Test func azureusStyle() {
        #expect(name("-LT2080-") == "libtorrent 2.0.8")
        #expect(name("-LT1217-") == "libtorrent 1.2.1.7")
        #expect(name("-TR3000-") == "Transmission 3.00")
        #expect(name("-TR2940-") == "Transmission 2.94")
        #expect(name("-TR4050-") == "Transmission 4.0.5")
        #expect(name("-TR300Z-") == "Transmission 3.00 (dev)")
        #expect(name("-qB4250-") == "qBittorrent 4.2.5")
        #expect(name("-UT355S-") == "µTorrent 3.5.5")
        #expect(name("-DE13F0-") == "Deluge 1.3.15")
        #expect(name("-TT0100-") == "tt 0.1.0")
        #expect(name("-ZZ1000-") == "unknown client ZZ 1.0.0")
    }

    @Test func aria2AndMainlineAndShadow() {
        #expect(name("A2-1-36-0-") == "aria2 1.36.0")
        #expect(name("M4-3-6--") == "BitTorrent 4.3.6")
        #expect(name("S58B-----") == "Shadow 5.8.11")
        #expect(name("T03I-----") == "BitTornado 0.3.18")
        #expect(PeerID(bytes: [UInt8](repeating: 0, count: 20)).client == nil)
    }

    @Test func oursIsAzureusStyleAndRandom() {
        let a = PeerID.ours(), b = PeerID.ours()
        #expect(Array(a.bytes.prefix(8)) == Array("-TT0100-".utf8))
        #expect(a != b)
        #expect(a.client == "tt 0.1.0")
    }
}

@Suite struct FrameDecoderTests {
    var stream: [UInt8] {
        var bytes = Handshake(reserved: ReservedBits(), infoHash: sampleHash, peerID: samplePeerID).encoded()
        for message in everyMessage { bytes += message.encoded() }
        return bytes
    }

    func check(_ frames: [PeerFrame]) throws {
        try #require(frames.count == everyMessage.count + 1)
        #expect(frames[0] == .handshake(Handshake(reserved: ReservedBits(), infoHash: sampleHash, peerID: samplePeerID)))
        for (index, message) in everyMessage.enumerated() {
            #expect(frames[index + 1] == .message(message, wireLength: message.encoded().count))
        }
    }

    @Test func wholeStream() throws { try check(decodeAll(stream, chunks: [stream.count], handshake: true)) }
    @Test func byteByByte() throws { try check(decodeAll(stream, chunks: [1], handshake: true)) }
    @Test func oddSplits() throws {
        for chunks in [[2], [3], [7], [13], [67, 1], [69], [5, 11, 1]] { try check(decodeAll(stream, chunks: chunks, handshake: true)) }
    }
    @Test func messageByMessage() throws {
        var sizes = [68]
        sizes += everyMessage.map { $0.encoded().count }
        var decoder = FrameDecoder(expectingHandshake: true)
        var offset = 0
        var frames: [PeerFrame] = []
        let bytes = stream
        for size in sizes {
            decoder.append(bytes[offset..<offset + size])
            offset += size
            let frame = try decoder.next()
            #expect(frame != nil)
            if let frame { frames.append(frame) }
            #expect(try decoder.next() == nil)
        }
        try check(frames)
    }

    @Test func hugeLengthPrefixFailsWithoutAllocating() throws {
        var decoder = FrameDecoder(expectingHandshake: false)
        decoder.append([0xFF, 0xFF, 0xFF, 0xFF, 7])
        #expect(throws: PeerWireError.messageTooLong(length: 0xFFFF_FFFF, limit: FrameDecoder.defaultMaxMessageLength)) { try decoder.next() }
        #expect(decoder.bufferedCount == 5)
    }

    @Test func unknownIdIsNamed() throws {
        var decoder = FrameDecoder(expectingHandshake: false)
        decoder.append([0, 0, 0, 3, 99, 1, 2])
        #expect(throws: PeerWireError.unknownMessage(id: 99, length: 3)) { try decoder.next() }
        #expect(PeerWireError.unknownMessage(id: 99, length: 3).description.contains("99"))
    }

    @Test func wrongPayloadLengths() throws {
        for bytes: [UInt8] in [[0, 0, 0, 2, 4, 1], [0, 0, 0, 2, 1, 0], [0, 0, 0, 5, 6, 0, 0, 0, 1], [0, 0, 0, 4, 7, 0, 0, 0]] {
            var decoder = FrameDecoder(expectingHandshake: false)
            decoder.append(bytes)
            #expect(throws: PeerWireError.self) { try decoder.next() }
        }
    }

    @Test func needMoreConsumesNothing() throws {
        var decoder = FrameDecoder(expectingHandshake: false)
        let message = PeerMessage.piece(index: 1, begin: 2, block: [9, 9, 9]).encoded()
        decoder.append(message.prefix(6))
        #expect(try decoder.next() == nil)
        #expect(decoder.bufferedCount == 6)
        decoder.append(message.dropFirst(6))
        #expect(try decoder.next() == .message(.piece(index: 1, begin: 2, block: [9, 9, 9]), wireLength: message.count))
    }
}

@Suite struct ExtensionHandshakeTests {
    @Test func roundTripEveryField() throws {
        let handshake = ExtensionHandshake(messages: ["ut_metadata": 2, "ut_pex": 1], version: "libtorrent 2.0.8", listenPort: 6881,
                                           yourIP: [127, 0, 0, 1], requestQueue: 500, metadataSize: 1234)
        let decoded = try ExtensionHandshake(decoding: handshake.encoded())
        #expect(decoded == handshake)
        #expect(decoded.yourIPText == "127.0.0.1")
    }

    @Test func toleratesUnknownKeysAndRejectsNonsense() throws {
        let payload = BencodeValue.dict([("m", .dict([("ut_metadata", .integer(3))])), ("e", .integer(1)), ("complete_ago", .integer(1))]).encoded()
        #expect(try ExtensionHandshake(decoding: payload).messages == ["ut_metadata": 3])
        #expect(throws: PeerWireError.self) { try ExtensionHandshake(decoding: Array("i3e".utf8)) }
        #expect(throws: PeerWireError.self) { try ExtensionHandshake(decoding: Array("d1:mi3ee".utf8)) }
        #expect(throws: PeerWireError.self) { try ExtensionHandshake(decoding: [0xFF, 0x00]) }
    }
}

@Suite struct BitfieldTests {
    @Test func lengthAndSpareBits() throws {
        #expect(try Bitfield.decoding([0xFF, 0xC0], pieceCount: 10).setCount == 10)
        #expect(throws: PeerWireError.self) { try Bitfield.decoding([0xFF], pieceCount: 10) }
        #expect(throws: PeerWireError.self) { try Bitfield.decoding([0xFF, 0xE0], pieceCount: 10) }
        var bits = Bitfield(pieceCount: 9)
        bits.set(8)
        #expect(bits.bytes == [0, 0x80] && bits[8] && !bits[0])
        #expect(Bitfield(pieceCount: 9, all: true).isComplete)
    }
}

@Suite struct PieceDownloadTests {
    /// A torrent of `count` pieces of `length` bytes, and its piece `index`.
    func piece(_ index: Int, length: Int, count: Int = 4) -> (PieceIndex, Lengths) {
        let lengths = Lengths(layout: PieceLayout(pieceLength: length, totalLength: Int64(length * count)))
        return (lengths.piece(index)!, lengths)
    }

    @Test func pipelinesAndAssembles() throws {
        let (index, lengths) = piece(3, length: 40_000)
        var download = PieceDownload(piece: index, lengths: lengths, maxInFlight: 2)
        let first = download.nextRequests()
        #expect(first == [BlockRequest(index: 3, begin: 0, length: 16384), BlockRequest(index: 3, begin: 16384, length: 16384)])
        #expect(download.nextRequests().isEmpty)
        try download.receive(index: 3, begin: 16384, block: [UInt8](repeating: 2, count: 16384))
        let next = download.nextRequests()
        #expect(next == [BlockRequest(index: 3, begin: 32768, length: 40_000 - 32768)])
        try download.receive(index: 3, begin: 0, block: [UInt8](repeating: 1, count: 16384))
        try download.receive(index: 3, begin: 32768, block: [UInt8](repeating: 3, count: 40_000 - 32768))
        #expect(download.isComplete)
        #expect(download.data[0] == 1 && download.data[16384] == 2 && download.data[39_999] == 3)
    }

    @Test func refusesBlocksNeverAsked() throws {
        let (index, lengths) = piece(0, length: 65536)
        var download = PieceDownload(piece: index, lengths: lengths, maxInFlight: 1)
        _ = download.nextRequests()
        #expect(throws: PeerWireError.self) { try download.receive(index: 0, begin: 16384, block: [UInt8](repeating: 0, count: 16384)) }
        #expect(throws: PeerWireError.self) { try download.receive(index: 1, begin: 0, block: [UInt8](repeating: 0, count: 16384)) }
        #expect(throws: PeerWireError.self) { try download.receive(index: 0, begin: 0, block: [1, 2, 3]) }
    }

    @Test func chokeAndRejectReRequest() {
        let (index, lengths) = piece(0, length: 32768)
        var download = PieceDownload(piece: index, lengths: lengths, maxInFlight: 4)
        #expect(download.nextRequests().count == 2)
        download.rejected(BlockRequest(index: 0, begin: 0, length: 16384))
        #expect(download.nextRequests() == [BlockRequest(index: 0, begin: 0, length: 16384)])
        download.choked(peerHasFast: false)
        #expect(download.nextRequests().count == 2)
    }
}

@Suite struct PieceBlockFastPathTests {
    /// `nextPieceBlock` + `next` must see exactly what `next` alone sees, for every split of the input.
    @Test func fastPathAgreesWithTheDecoderForEverySplit() throws {
        let messages: [PeerMessage] = [
            .unchoke, .piece(index: 3, begin: 16384, block: Array(0..<200).map { UInt8($0) }), .have(piece: 9),
            .piece(index: 0, begin: 0, block: []), .keepAlive, .piece(index: 7, begin: 0, block: [1, 2, 3]),
        ]
        let wire = messages.flatMap { $0.encoded() }
        for split in [1, 2, 5, 13, 64, wire.count] {
            var decoder = FrameDecoder(expectingHandshake: false)
            var seen: [PeerMessage] = []
            var offset = 0
            while offset < wire.count {
                decoder.append(wire[offset..<min(offset + split, wire.count)])
                offset += split
                while true {
                    if decoder.nextPieceBlock({ index, begin, block in seen.append(.piece(index: index, begin: begin, block: Array(block))) }) { continue }
                    guard case .message(let message, _)? = try decoder.next() else { break }
                    seen.append(message)
                }
            }
            #expect(seen == messages, "split \(split)")
            #expect(decoder.bufferedCount == 0)
        }
    }

    @Test func fastPathLeavesOversizeAndShortFramesToTheDecoder() {
        var decoder = FrameDecoder(expectingHandshake: false, maxMessageLength: 64)
        decoder.append([0, 0, 1, 0, MessageID.piece] + [UInt8](repeating: 0, count: 300))
        #expect(!decoder.nextPieceBlock { _, _, _ in })
        #expect(throws: PeerWireError.self) { try decoder.next() }
        var short = FrameDecoder(expectingHandshake: false)
        short.append([0, 0, 0, 5, MessageID.piece, 0, 0, 0, 1])  // 4 bytes of payload: not a piece
        #expect(!short.nextPieceBlock { _, _, _ in })
        #expect(throws: PeerWireError.self) { try short.next() }
    }
}

@Suite struct MetadataMessageTests {
    @Test func roundTripsEveryKind() throws {
        let messages: [MetadataMessage] = [.request(piece: 2), .data(piece: 1, totalSize: 20_000, bytes: [1, 2, 3]), .reject(piece: 0)]
        for message in messages { #expect(try MetadataMessage(decoding: message.encoded()) == message) }
        // BEP 9's own example: the dictionary, then the piece's bytes.
        let wire = Array("d8:msg_typei1e5:piecei0e10:total_sizei34256eeXYZ".utf8)
        #expect(try MetadataMessage(decoding: wire) == .data(piece: 0, totalSize: 34_256, bytes: Array("XYZ".utf8)))
    }

    @Test func rejectsHostileHeaders() {
        for text in ["i1e", "d8:msg_typei9e5:piecei0ee", "d8:msg_typei1e5:piecei0ee", "d8:msg_typei1e5:piecei0e10:total_sizei99999999999ee",
                     "d8:msg_typei0e5:piecei-1ee", "d5:piecei0ee"] {
            #expect(throws: PeerWireError.self, "\(text)") { try MetadataMessage(decoding: Array(text.utf8)) }
        }
    }
}
