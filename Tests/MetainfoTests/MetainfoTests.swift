import Bencode
import Foundation
import Hashing
import Metainfo
import Testing

func fixtureBytes(_ name: String) -> [UInt8] {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return [UInt8](FileManager.default.contents(atPath: url.appendingPathComponent("Fixtures/\(name)").path) ?? Data())
}

@Suite struct TorrentParsingTests {
    @Test func infoHashIsOverRawBytesEvenWhenKeysAreUnsorted() throws {
        let torrent = try Torrent(bytes: fixtureBytes("bad/unsorted-info-keys.torrent"))
        let expected = String(decoding: fixtureBytes("bad/unsorted-info-keys.sha1"), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(torrent.infoHashes.v1Hex == expected)
        // A re-encoding would sort the keys and give another hash.
        #expect(Hex.encode(SHA1.hash(BencodeValue.dictionary(try BencodeDecoder(strictness: .lenient).decode(torrent.infoBytes).root.dictionaryEntries!).encoded())) != expected)
        #expect(torrent.warnings.contains { $0.contains("out of order") })
        #expect(torrent.name == "hello")
    }

    /// Each bad fixture and the error it must give (STYLE #7).
    static let badFixtures: [(String, String)] = [
        ("truncated.torrent", "unexpected end of data"),
        ("empty-file.torrent", "offset 0: unexpected end of data"),
        ("not-bencode.torrent", "offset 0: expected 'i', 'l', 'd' or a string length, found '<'"),
        ("string-length-exceeds-data.torrent", "string length 999 exceeds"),
        ("negative-string-length.torrent", "found '-'"),
        ("integer-no-digits.torrent", "no digits"),
        ("deep-nesting-100000.torrent", "nesting deeper than 256 levels"),
        ("top-level-not-dict.torrent", "top level is not a dictionary"),
        ("missing-info.torrent", "no 'info' dictionary"),
        ("missing-piece-length.torrent", "no integer 'piece length'"),
        ("negative-length.torrent", "'length' is negative (-1)"),
    ]

    @Test(arguments: badFixtures)
    func badFixtureGivesItsError(name: String, message: String) {
        do {
            _ = try Torrent(bytes: fixtureBytes("bad/\(name)"))
            Issue.record("\(name) parsed")
        } catch {
            #expect(error.description.contains(message), "\(name): \(error)")
        }
    }

    @Test func trailingGarbageIsAWarningNotAFailure() throws {
        let torrent = try Torrent(bytes: fixtureBytes("bad/trailing-garbage.torrent"))
        let good = try Torrent(bytes: fixtureBytes("good/mktorrent-single.torrent"))
        #expect(torrent.infoHashes == good.infoHashes)
        #expect(torrent.warnings.contains { $0.contains("trailing") })
    }

    @Test func readsMultiFileTrackersAndPrivateFlag() throws {
        let torrent = try Torrent(bytes: fixtureBytes("good/mktorrent-multi-private.torrent"))
        #expect(torrent.isPrivate)
        #expect(torrent.isMultiFile)
        #expect(torrent.name == "multi")
        #expect(torrent.files.map(\.displayPath) == ["data/a.bin", "data/b.bin", "data/empty.txt", "readme.txt"])
        #expect(torrent.files.map(\.length) == [70_000, 40_001, 0, 1_234])
        #expect(torrent.files.map(\.offset) == [0, 70_000, 110_001, 110_001])
        #expect(torrent.totalLength == 111_235)
        #expect(torrent.pieceLength == 32_768)
        #expect(torrent.pieceCount == 4)
        #expect(torrent.layout.lastPieceLength == 111_235 - 3 * 32_768)
    }

    @Test func readsTierOrderAndWebSeeds() throws {
        let torrent = try Torrent(bytes: fixtureBytes("good/libtorrent-v1-single.torrent"))
        #expect(torrent.trackerTiers == [["http://127.0.0.1:6969/announce"], ["udp://127.0.0.1:6969/announce"]])
        #expect(torrent.webSeeds == ["http://127.0.0.1:8080/single.bin"])
        #expect(torrent.version == .v1)
    }

    @Test func recognisesV2AndHybridWithBothHashes() throws {
        let hybrid = try Torrent(bytes: fixtureBytes("good/libtorrent-hybrid-multi.torrent"))
        #expect(hybrid.version == .hybrid)
        #expect(hybrid.infoHashes.v1 != nil && hybrid.infoHashes.v2 != nil)
        #expect(hybrid.infoHashes.v2 == SHA256.hash(hybrid.infoBytes))
        #expect(hybrid.files.contains { $0.isPadding })
        #expect(hybrid.files.filter { !$0.isPadding && $0.length > 0 }.allSatisfy { $0.piecesRoot?.count == 32 })
        let v2 = try Torrent(bytes: fixtureBytes("good/libtorrent-v2-multi.torrent"))
        #expect(v2.version == .v2)
        #expect(v2.infoHashes.v1 == nil)
        #expect(v2.infoHashes.wire == Array(v2.infoHashes.v2!.prefix(20)))
        #expect(v2.files.map(\.displayPath) == ["data/a.bin", "data/b.bin", "data/empty.txt", "readme.txt"])
        #expect(!v2.pieceLayers.isEmpty)
    }
}

@Suite struct PieceLayoutTests {
    @Test func arithmeticAtTheEdges() {
        let exact = PieceLayout(pieceLength: 16_384, totalLength: 32_768)
        #expect(exact.pieceCount == 2)
        #expect(exact.lastPieceLength == 16_384)
        let short = PieceLayout(pieceLength: 16_384, totalLength: 32_769)
        #expect(short.pieceCount == 3)
        #expect(short.lastPieceLength == 1)
        #expect(short.index(3) == nil)
        #expect(short.index(-1) == nil)
        let last = short.index(2)!
        #expect(short.offset(of: last) == 32_768)
        #expect(short.blockCount(of: last) == 1)
        let empty = PieceLayout(pieceLength: 16_384, totalLength: 0)
        #expect(empty.pieceCount == 0)
        #expect(empty.lastPieceLength == 0)
        let big = PieceLayout(pieceLength: 1 << 20, totalLength: (1 << 20) + 40_000)
        #expect(big.blockCount(of: big.index(0)!) == 64)
        #expect(big.blockLength(of: big.index(1)!, block: 2) == 40_000 - 2 * 16_384)
        // Large totals do not overflow 32-bit arithmetic.
        let huge = PieceLayout(pieceLength: 1 << 24, totalLength: 1 << 40)
        #expect(huge.pieceCount == 1 << 16)
        #expect(huge.offset(of: huge.index(65_535)!) == (1 << 40) - (1 << 24))
    }
}

@Suite struct MagnetTests {
    @Test func parsesAndPrintsV1AndV2() throws {
        let link = "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn=Some%20Name&tr=udp%3A%2F%2F127.0.0.1%3A6969&tr=http://a/b&x.pe=127.0.0.1:6881"
        let magnet = try MagnetLink(parsing: link)
        #expect(magnet.infoHashes.v1Hex == "c12fe1c06bba254a9dc9f519b335aa7c1367a88a")
        #expect(magnet.displayName == "Some Name")
        #expect(magnet.trackers == ["udp://127.0.0.1:6969", "http://a/b"])
        #expect(magnet.peers == ["127.0.0.1:6881"])
        #expect(try MagnetLink(parsing: magnet.link) == magnet)

        let v2 = try MagnetLink(parsing: "magnet:?xt=urn:btmh:1220" + String(repeating: "ab", count: 32))
        #expect(v2.infoHashes.v2 == [UInt8](repeating: 0xAB, count: 32))
        let base32 = try MagnetLink(parsing: "magnet:?xt=urn:btih:YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK")
        #expect(base32.infoHashes.v1Hex == "c12fe1c06bba254a9dc9f519b335aa7c1367a88a")
    }

    @Test func rejectsBadLinks() {
        for link in ["http://x", "magnet:?dn=x", "magnet:?xt=urn:btih:1234", "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn=%zz",
                     "magnet:?xt=urn:btmh:1114" + String(repeating: "00", count: 20)] {
            #expect(throws: MetainfoError.self, "\(link)") { try MagnetLink(parsing: link) }
        }
    }
}

@Suite struct TorrentCreatorTests {
    func tree() throws -> String {
        let root = NSTemporaryDirectory() + "tt-create-\(UInt32.random(in: 0...UInt32.max))"
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/set/sub", withIntermediateDirectories: true)
        #expect(fm.createFile(atPath: root + "/set/b.bin", contents: Data((0..<50_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })))
        #expect(fm.createFile(atPath: root + "/set/sub/a.bin", contents: Data((0..<20_000).map { UInt8(truncatingIfNeeded: $0 &* 13) })))
        #expect(fm.createFile(atPath: root + "/set/A.txt", contents: Data("hello".utf8)))
        return root + "/set"
    }

    @Test func v1PiecesHashTheConcatenatedFilesInPathOrder() throws {
        let path = try tree()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        var options = TorrentCreator.Options()
        options.pieceLength = 16_384
        let torrent = try Torrent(bytes: try TorrentCreator(options: options).create(path: path))
        #expect(torrent.files.map(\.displayPath) == ["A.txt", "b.bin", "sub/a.bin"])
        var stream = [UInt8]()
        for file in torrent.files { stream += [UInt8](FileManager.default.contents(atPath: path + "/" + file.displayPath)!) }
        #expect(torrent.totalLength == Int64(stream.count))
        for piece in torrent.layout.indices {
            let start = Int(torrent.layout.offset(of: piece))
            let expected = SHA1.hash(stream[start..<start + torrent.layout.length(of: piece)])
            #expect(Array(torrent.pieceHash(piece)!) == expected, "piece \(piece)")
        }
    }

    @Test func sameInputAndOptionsGiveTheSameBytes() throws {
        let path = try tree()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        var options = TorrentCreator.Options()
        options.version = .hybrid
        options.trackerTiers = [["http://127.0.0.1:6969/announce"], ["udp://127.0.0.1:6969"]]
        let first = try TorrentCreator(options: options).create(path: path)
        let second = try TorrentCreator(options: options).create(path: path)
        #expect(first == second)
        let torrent = try Torrent(bytes: first)
        #expect(torrent.version == .hybrid)
        #expect(torrent.trackerTiers.count == 2)
        // Hybrid: every real file starts on a piece boundary.
        #expect(torrent.files.filter { !$0.isPadding }.allSatisfy { $0.offset % Int64(torrent.pieceLength) == 0 })
    }

    @Test func merkleRootOfOneBlockIsItsHashAndPaddingUsesZeros() {
        let leaf = SHA256.hash(Array("x".utf8))
        #expect(TorrentCreator.merkleRoot([leaf], width: 1) == leaf)
        let zero = [UInt8](repeating: 0, count: 32)
        #expect(TorrentCreator.merkleRoot([leaf], width: 2) == SHA256.hash(leaf + zero))
    }

    @Test func automaticPieceLengthStaysInBounds() {
        #expect(TorrentCreator.automaticPieceLength(totalLength: 1) == 16_384)
        #expect(TorrentCreator.automaticPieceLength(totalLength: 1 << 30) == 1 << 20)
        #expect(TorrentCreator.automaticPieceLength(totalLength: 1 << 50) == 1 << 24)
    }
}

/// A metainfo of megabytes (here 300 000 pieces, 6 MB) is copied by a path of its own (huge-page
/// advice): the copy must be the info dictionary exactly, and the info hash its SHA-1.
@Suite struct LargeMetainfoTests {
    @Test func aLargeInfoDictionaryIsCopiedExactly() throws {
        let count = 300_000
        var pieces = [UInt8](repeating: 0, count: 20 * count)
        for index in pieces.indices { pieces[index] = UInt8(truncatingIfNeeded: index &* 131 &+ index >> 9) }
        let info = BencodeValue.dictionary([BencodeEntry("length", .integer(Int64(count) * 16384)), BencodeEntry("name", .string("big")),
                                            BencodeEntry("piece length", .integer(16384)), BencodeEntry("pieces", .string(pieces))])
        let infoBytes = info.encoded()
        let bytes = BencodeValue.dictionary([BencodeEntry("announce", .string("http://127.0.0.1/announce")), BencodeEntry("info", info)]).encoded()
        let torrent = try Torrent(bytes: bytes)
        #expect(torrent.infoBytes == infoBytes)
        #expect(torrent.infoHashes.v1 == SHA1.hash(infoBytes))
        #expect(torrent.layout.pieceCount == count)
    }
}
