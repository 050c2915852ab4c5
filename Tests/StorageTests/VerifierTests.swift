import Foundation
import Metainfo
import Storage
import TestSupport
import Testing

@Suite struct VerifierTests {
    @Test(arguments: [Torrent.Version.v1, .v2, .hybrid])
    func completeDataIsAllGood(_ version: Torrent.Version) throws {
        let fixture = try Fixture(files: [("a", 100_000), ("empty", 0), ("b/c", 16384), ("d", 7)], pieceLength: 16384, version: version)
        let report = try fixture.verify()
        #expect(report.ok)
        #expect(report.good == report.verdicts.count)
        #expect(report.files.map(\.status) == [.complete, .complete, .complete, .complete])
        #expect(report.bytesChecked >= 100_000 + 16384 + 7)
    }

    @Test(arguments: [Torrent.Version.v1, .v2, .hybrid])
    func aFlippedByteMakesExactlyItsPieceBad(_ version: Torrent.Version) throws {
        let fixture = try Fixture(files: [("a", 100_000), ("b", 50_000)], pieceLength: 16384, version: version)
        fixture.flipByte("a", at: 3 * 16384 + 5)
        let report = try fixture.verify()
        #expect(!report.ok)
        #expect(report.badPieces == [3])
        #expect(report.missingPieces.isEmpty)
        #expect(report.status("a") == .damaged)
        #expect(report.status("b") == .complete)
    }

    @Test func theSameVerdictsWithOneWorkerManyWorkersAndTinyChunks() throws {
        let fixture = try Fixture(files: [("a", 300_000), ("b", 123_457)], pieceLength: 32768)
        fixture.flipByte("a", at: 70_000)
        fixture.flipByte("b", at: 123_456)
        let reference = try fixture.verify(workers: 1)
        #expect(reference.badPieces == [2, 12])
        for (workers, chunk) in [(2, 4 << 20), (4, 65536), (3, 100_000)] {
            let report = try fixture.verify(workers: workers, chunkSize: chunk)
            #expect(report.verdicts == reference.verdicts, "workers \(workers), chunk \(chunk)")
            let mapped = try fixture.verify(workers: workers, chunkSize: chunk, readMethod: .mmap)
            #expect(mapped.verdicts == reference.verdicts, "mmap, workers \(workers), chunk \(chunk)")
        }
    }

    @Test func piecesLargerThanTheBufferStreamThroughIt() throws {
        let fixture = try Fixture(files: [("", 1_000_000)], pieceLength: 262_144, version: .hybrid)
        fixture.flipByte("", at: 600_000)
        let report = try fixture.verify(workers: 2, chunkSize: 65536)
        #expect(report.badPieces == [2])
        #expect(report.good == 3)
    }

    @Test func aTruncatedFileHasMissingPiecesAndIsShort() throws {
        let fixture = try Fixture(files: [("", 200_000)], pieceLength: 16384)
        fixture.truncate("", to: 100_000)
        let report = try fixture.verify()
        // 100_000 bytes hold pieces 0-5 whole (98304); piece 6 onwards lacks bytes.
        #expect(report.missingPieces == Array(6...12))
        #expect(report.good == 6)
        #expect(report.files[0].status == .short)
        #expect(report.files[0].actualSize == 100_000)
        #expect(!report.ok)
    }

    @Test func aMissingFileAndATooLongOne() throws {
        let fixture = try Fixture(files: [("a", 40_000), ("b", 40_000), ("c", 40_000)], pieceLength: 16384)
        fixture.remove("b")
        fixture.append("c", bytes: 1000)
        let report = try fixture.verify()
        // b spans stream bytes 40000..<80000: pieces 2...4.
        #expect(report.missingPieces == [2, 3, 4])
        #expect(report.badPieces.isEmpty)
        #expect(report.status("a") == .unverified)  // its last piece is shared with b
        #expect(report.status("b") == .missing)
        #expect(report.status("c") == .tooLong)
        #expect(report.files[2].missingPieces == [4])
        #expect(!report.ok)
    }

    @Test func v2ChecksTheFilesOnTheirOwnPieces() throws {
        let fixture = try Fixture(files: [("a", 40_000), ("b", 10_000), ("c", 70_000)], pieceLength: 16384, version: .v2)
        fixture.remove("b")
        fixture.flipByte("c", at: 69_999)
        let report = try fixture.verify()
        // a: pieces 0-2, b: 3, c: 4-8.
        #expect(report.missingPieces == [3])
        #expect(report.badPieces == [8])
        #expect(report.status("a") == .complete)
        #expect(report.status("b") == .missing)
        #expect(report.status("c") == .damaged)
    }

    @Test func hybridDataThatAgreesWithSHA1ButNotTheTreeIsBad() throws {
        // Corrupt the v2 piece layer in the torrent: SHA-1 still matches, SHA-256 does not.
        let fixture = try Fixture(files: [("a", 50_000), ("b", 20_000)], pieceLength: 16384, version: .hybrid)
        var torrent = fixture.torrent
        let root = try #require(fixture.torrent.files.first { $0.path == ["a"] }?.piecesRoot)
        torrent.pieceLayers[root]![0] ^= 1
        let layout = try FileLayout(torrent: torrent)
        let hashes = try PieceHashes(torrent: torrent, layout: layout)
        #expect(hashes.checksV1 && hashes.checksV2)
        let store = try PieceStore(layout: layout, contentPath: fixture.content, access: .read)
        let report = try Verifier(store: store, hashes: hashes).run()
        #expect(report.badPieces == [0])
    }

    @Test func cancellingStopsEarlyAndLeavesPiecesUnchecked() throws {
        let fixture = try Fixture(files: [("", 2_000_000)], pieceLength: 16384)
        let layout = try FileLayout(torrent: fixture.torrent)
        let store = try PieceStore(layout: layout, contentPath: fixture.content, access: .read)
        let verifier = Verifier(store: store, hashes: try PieceHashes(torrent: fixture.torrent, layout: layout),
                                options: .init(workers: 1, chunkSize: 65536))
        let cancel = CancellationFlag()
        let report = try verifier.run(cancel: cancel) { _ in cancel.cancel() }
        #expect(report.cancelled)
        #expect(!report.ok)
        #expect(report.verdicts.contains(.unchecked))
        #expect(report.good == 4)  // one job of 64 KiB was done
    }
}
