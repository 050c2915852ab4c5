import Bencode
import Metainfo
import Testing
@testable import PeerWire

/// `PeerSession` without I/O: two sessions wired back to back, and hand-written peers for faults.
@Suite struct PeerSessionTests {
    static let infoHash = [UInt8](repeating: 0xAB, count: 20)
    static let lengths = Lengths(layout: PieceLayout(pieceLength: 32768, totalLength: 100_000))  // 4 pieces, the last 1696 bytes

    static func configuration(_ id: String, lengths: Lengths? = PeerSessionTests.lengths) -> PeerSession.Configuration {
        var configuration = PeerSession.Configuration(infoHash: infoHash, peerID: PeerID(bytes: Array(id.utf8)))
        configuration.lengths = lengths
        configuration.clientVersion = "test 1.0"
        return configuration
    }

    /// Moves bytes both ways until neither side has output; returns each side's events.
    static func pump(_ a: inout PeerSession, _ b: inout PeerSession) throws -> (a: [PeerSession.Event], b: [PeerSession.Event]) {
        var eventsA: [PeerSession.Event] = [], eventsB: [PeerSession.Event] = []
        while a.hasOutput || b.hasOutput {
            b.append(a.takeOutput())
            while let event = try b.next(onBlock: { _, _, _ in }) { eventsB.append(event) }
            a.append(b.takeOutput())
            while let event = try a.next(onBlock: { _, _, _ in }) { eventsA.append(event) }
        }
        return (eventsA, eventsB)
    }

    @Test func handshakesAndExchangesExtensionHandshakes() throws {
        var dialler = PeerSession(Self.configuration("-TT0001-aaaaaaaaaaaa"), initiator: true)
        var configuration = Self.configuration("-TT0001-bbbbbbbbbbbb")
        configuration.metadata = Array(repeating: 7, count: 40_000)
        configuration.extensionNames = ["ut_pex"]
        configuration.listenPort = 6881
        configuration.requestQueue = 321
        configuration.yourIP = [127, 0, 0, 9]
        var answerer = PeerSession(configuration, initiator: false)
        dialler.start()
        #expect(!answerer.hasOutput)  // the side that is dialled waits for the other's handshake
        let (a, b) = try Self.pump(&dialler, &answerer)
        #expect(dialler.handshakeDone && answerer.handshakeDone && dialler.fast && dialler.extensionsEnabled)
        #expect(b.contains(.handshake(Handshake(reserved: dialler.configuration.reserved, infoHash: Self.infoHash,
                                                peerID: dialler.configuration.peerID))))
        let theirs = try #require(dialler.theirExtensions)
        #expect(theirs.messages == ["ut_metadata": 1, "ut_pex": 2])
        #expect(theirs.version == "test 1.0" && theirs.listenPort == 6881 && theirs.requestQueue == 321)
        #expect(theirs.metadataSize == 40_000 && theirs.yourIPText == "127.0.0.9")
        #expect(dialler.peerRequestQueue == 321 && dialler.peerSupports("ut_pex") && !answerer.peerSupports("ut_pex"))
        #expect(a.contains { if case .extensionHandshake = $0 { return true }; return false })
    }

    @Test func wrongInfoHashIsAnError() throws {
        var dialler = PeerSession(Self.configuration("-TT0001-aaaaaaaaaaaa"), initiator: true)
        var other = Self.configuration("-TT0001-bbbbbbbbbbbb")
        other.infoHash = [UInt8](repeating: 0xCD, count: 20)
        var answerer = PeerSession(other, initiator: true)
        dialler.start()
        answerer.start()
        dialler.append(answerer.takeOutput())
        #expect(throws: PeerWireError.wrongInfoHash(expected: Self.infoHash, received: other.infoHash)) {
            try dialler.next(onBlock: { _, _, _ in })
        }
    }

    @Test func fastExtensionAvailabilityAndPieceIndicesAreChecked() throws {
        var a = PeerSession(Self.configuration("-TT0001-aaaaaaaaaaaa"), initiator: true)
        var b = PeerSession(Self.configuration("-TT0001-bbbbbbbbbbbb"), initiator: false)
        a.start()
        _ = try Self.pump(&a, &b)
        b.sendAvailability(Bitfield(pieceCount: 4, all: true))
        b.send(.allowedFast(piece: 2))
        b.send(.suggest(piece: 1))
        b.send(.unchoke)
        let (events, _) = try Self.pump(&a, &b)
        #expect(events.contains(.message(.haveAll)) && a.peerIsSeed)
        #expect(a.allowedFast == [2] && !a.peerChoking)
        #expect(events.contains(.message(.suggest(piece: 1))))
        // An index past the torrent is an error, whatever message names it.
        for message in [PeerMessage.have(piece: 4), .allowedFast(piece: 9), .suggest(piece: 4)] {
            var copy = a
            copy.append(message.encoded())
            #expect(throws: PeerWireError.self) { _ = try copy.next(onBlock: { _, _, _ in }) }
        }
        var request = a
        request.append(PeerMessage.request(BlockRequest(index: 3, begin: 1024, length: 16384)).encoded())
        #expect(throws: PeerWireError.self) { try request.next(onBlock: { _, _, _ in }) }
    }

    @Test func haveAllWithoutTheFastExtensionIsAnError() throws {
        var plain = Self.configuration("-TT0001-aaaaaaaaaaaa")
        plain.reserved = ReservedBits([ReservedBits.extensionProtocol])
        var a = PeerSession(plain, initiator: true)
        var b = PeerSession(Self.configuration("-TT0001-bbbbbbbbbbbb"), initiator: false)
        a.start()
        _ = try Self.pump(&a, &b)
        #expect(!a.fast)
        a.append(PeerMessage.haveAll.encoded())
        #expect(throws: PeerWireError.self) { try a.next(onBlock: { _, _, _ in }) }
    }

    @Test func servesMetadataAndRoutesOtherExtensions() throws {
        var fetcherConfiguration = Self.configuration("-TT0001-aaaaaaaaaaaa", lengths: nil)
        fetcherConfiguration.wantsMetadata = true
        fetcherConfiguration.extensionNames = ["ut_pex"]
        var fetcher = PeerSession(fetcherConfiguration, initiator: true)
        var serverConfiguration = Self.configuration("-TT0001-bbbbbbbbbbbb")
        let info = (0..<20_000).map { UInt8(truncatingIfNeeded: $0) }
        serverConfiguration.metadata = info
        serverConfiguration.extensionNames = ["ut_pex"]
        var server = PeerSession(serverConfiguration, initiator: false)
        fetcher.start()
        _ = try Self.pump(&fetcher, &server)
        var assembler = try #require(MetadataAssembler(metadataSize: fetcher.theirExtensions?.metadataSize))
        for request in assembler.requests {
            let sent = fetcher.sendExtension("ut_metadata", payload: request.encoded())
            #expect(sent)
        }
        let (events, _) = try Self.pump(&fetcher, &server)
        for case .metadata(.data(let piece, let total, let bytes)) in events { try assembler.receive(piece: piece, totalSize: total, bytes: bytes) }
        #expect(assembler.bytes == info)
        // ut_pex payloads reach the other side by name, under whatever id it gave out.
        let sent = server.sendExtension("ut_pex", payload: [1, 2, 3])
        #expect(sent)
        let (pex, _) = try Self.pump(&fetcher, &server)
        #expect(pex == [.extensionMessage(name: "ut_pex", payload: [1, 2, 3])])
        // BEP 5 `port` surfaces as an event.
        server.send(.port(6881))
        let (port, _) = try Self.pump(&fetcher, &server)
        #expect(port == [.message(.port(6881))])
    }

    @Test func blocksGoStraightToTheCallbackWithoutACopy() throws {
        var a = PeerSession(Self.configuration("-TT0001-aaaaaaaaaaaa"), initiator: true)
        var b = PeerSession(Self.configuration("-TT0001-bbbbbbbbbbbb"), initiator: false)
        a.start()
        _ = try Self.pump(&a, &b)
        b.send(.piece(index: 1, begin: 16384, block: [9, 9, 9]))
        a.append(b.takeOutput())
        var blocks: [(UInt32, UInt32, [UInt8])] = []
        let event = try a.next { index, begin, raw in blocks.append((index, begin, Array(raw))) }
        #expect(event == nil && blocks.count == 1 && blocks[0].0 == 1 && blocks[0].1 == 16384 && blocks[0].2 == [9, 9, 9])
    }

    @Test func everySplitOfTheInputGivesTheSameEvents() throws {
        var b = PeerSession(Self.configuration("-TT0001-bbbbbbbbbbbb"), initiator: true)
        b.start()
        var a0 = PeerSession(Self.configuration("-TT0001-aaaaaaaaaaaa"), initiator: false)
        a0.append(b.takeOutput())
        _ = try a0.next(onBlock: { _, _, _ in })
        b.append(a0.takeOutput())
        while try b.next(onBlock: { _, _, _ in }) != nil {}
        b.sendAvailability(Bitfield(pieceCount: 4, all: true))
        b.send(.unchoke)
        b.send(.have(piece: 2))
        b.send(.port(7000))
        var stream = Handshake(reserved: b.configuration.reserved, infoHash: Self.infoHash, peerID: b.configuration.peerID).encoded()
        stream += b.takeOutput()
        func events(chunk: Int) throws -> [PeerSession.Event] {
            var a = PeerSession(Self.configuration("-TT0001-aaaaaaaaaaaa"), initiator: false)
            var out: [PeerSession.Event] = []
            var offset = 0
            while offset < stream.count {
                a.append(stream[offset..<min(stream.count, offset + chunk)])
                offset += chunk
                while let event = try a.next(onBlock: { _, _, _ in }) { out.append(event) }
            }
            return out
        }
        let whole = try events(chunk: stream.count)
        #expect(whole.count >= 5)
        for chunk in [1, 2, 3, 7, 68, 69] { #expect(try events(chunk: chunk) == whole, "chunk \(chunk)") }
    }
}

@Suite struct LengthsTests {
    let lengths = Lengths(layout: PieceLayout(pieceLength: 40_000, totalLength: 100_000))  // 40 000, 40 000, 20 000

    @Test func blocksOfEachPieceTheLastOneShort() {
        let first = lengths.piece(0)!, last = lengths.piece(2)!
        #expect(lengths.blockCount(of: first) == 3 && lengths.lastBlockLength(of: first) == 40_000 - 2 * 16384)
        #expect(lengths.blockCount(of: last) == 2 && lengths.lastBlockLength(of: last) == 20_000 - 16384)
        #expect(lengths.blocks(of: first).map(\.begin) == [0, 16384, 32768])
        #expect(lengths.lastPieceLength == 20_000)
        #expect(lengths.piece(3) == nil && lengths.piece(UInt32.max) == nil && lengths.piece(-1) == nil)
    }

    @Test func receivedBlocksMustBeOursExactly() {
        #expect(lengths.receivedBlock(index: 0, begin: 16384, length: 16384)?.number == 1)
        #expect(lengths.receivedBlock(index: 2, begin: 16384, length: 20_000 - 16384) != nil)
        #expect(lengths.receivedBlock(index: 0, begin: 100, length: 16384) == nil)   // unaligned
        #expect(lengths.receivedBlock(index: 0, begin: 0, length: 100) == nil)       // wrong length
        #expect(lengths.receivedBlock(index: 0, begin: 49152, length: 16384) == nil) // past the piece
        #expect(lengths.receivedBlock(index: 7, begin: 0, length: 16384) == nil)     // no such piece
    }

    @Test func requestsAreCheckedAgainstTheTorrent() throws {
        #expect(try lengths.validate(BlockRequest(index: 2, begin: 3616, length: 16384)).length == 16384)
        #expect(try lengths.validate(BlockRequest(index: 0, begin: 0, length: 131072 / 4)).length == 32768)
        for bad in [BlockRequest(index: 3, begin: 0, length: 16384), BlockRequest(index: 2, begin: 3617, length: 16384),
                    BlockRequest(index: 0, begin: 0, length: 0), BlockRequest(index: 0, begin: 0, length: 131073),
                    BlockRequest(index: 0, begin: UInt32.max, length: 16384)] {
            #expect(throws: PeerWireError.self) { try lengths.validate(bad) }
        }
    }
}

@Suite struct PieceHeaderTests {
    @Test func headerPlusBlockIsThePieceMessage() {
        let block: [UInt8] = [1, 2, 3, 4, 5]
        let framed = PeerMessage.pieceHeader(index: 7, begin: 16384, blockLength: block.count) + block
        #expect(framed == PeerMessage.piece(index: 7, begin: 16384, block: block).encoded())
    }
}
