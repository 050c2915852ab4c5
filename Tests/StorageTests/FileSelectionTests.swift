import Foundation
import JSON
import Metainfo
import Storage
import TestSupport
import Testing

/// Choosing files: unselected files are not created, bytes of theirs in shared pieces go to the parts
/// file, `tt verify` calls them skipped, and widening the selection moves those bytes into the files.
@Suite struct FileSelectionTests {
    /// a (20000), b (30000), c (25000) in 16 KiB pieces: b shares piece 1 with a and piece 3 with c.
    func fixture() throws -> Fixture { try Fixture(name: "set", files: [("a", 20_000), ("b", 30_000), ("c", 25_000)]) }

    @Test func indexesAndRangesParseAsInfoNumbersFiles() throws {
        #expect(try FileSelection.parseIndexes("0,3-5", fileCount: 6).get() == [0, 3, 4, 5])
        #expect(try FileSelection.parseIndexes(" 2 ", fileCount: 3).get() == [2])
        for bad in ["", "x", "3-1", "-1", "1,,2", "6"] {
            #expect(throws: SelectionError.self) { try FileSelection.parseIndexes(bad, fileCount: 6).get() }
        }
    }

    @Test func wantedPiecesCoverSelectedFilesOnly() throws {
        let made = try fixture()
        let layout = try FileLayout(torrent: made.torrent)
        let wanted = FileSelection([0]).wantedPieces(layout)
        #expect((0..<layout.pieceCount).filter { wanted[$0] } == [0, 1])
        #expect((0..<layout.pieceCount).filter { FileSelection([2]).wantedPieces(layout)[$0] } == [3, 4])
        #expect(FileSelection.all(layout).isEverything(layout))
    }

    /// Writes the pieces `selection` wants from the fixture's data into `out`, as a download would.
    func download(_ made: Fixture, selection: FileSelection, into out: String) throws -> (PieceStore, Bitfield) {
        let layout = try FileLayout(torrent: made.torrent)
        let source = try PieceStore(layout: layout, contentPath: made.content, access: .read)
        try FileManager.default.createDirectory(atPath: out + "/.tt", withIntermediateDirectories: true)
        let store = try PieceStore(layout: layout, contentPath: out + "/set", access: .readWrite(.sparse), selection: selection,
                                   partsPath: ResumeState.partsPath(output: out, infoHashes: made.torrent.infoHashes))
        let wanted = selection.wantedPieces(layout)
        for raw in 0..<layout.pieceCount where wanted[raw] {
            let piece = layout.pieces.index(raw)!
            try store.writePiece(piece, try #require(try source.readPiece(piece)))
        }
        try store.flush()
        let state = ResumeState(infoHashHex: ResumeState.key(made.torrent.infoHashes), name: "set", torrentBytes: made.torrentBytes,
                                verified: wanted, selectedFiles: selection.selected.sorted())
        try state.save(output: out)
        return (store, wanted)
    }

    @Test func unselectedFilesAreNotCreatedAndVerifySaysSkipped() throws {
        let made = try fixture()
        let out = made.directory.file("out")
        _ = try download(made, selection: FileSelection([0, 2]), into: out)
        #expect(FileManager.default.fileExists(atPath: out + "/set/a"))
        #expect(!FileManager.default.fileExists(atPath: out + "/set/b"))
        #expect(FileManager.default.fileExists(atPath: ResumeState.partsPath(output: out, infoHashes: made.torrent.infoHashes)))
        let result = CLI.run(["verify", "--json", out + "/set"])
        #expect(result.code == 0, "\(result.stderr)")
        let json = try JSONParser().parse(result.stdout)
        #expect(json["ok"] == .bool(true))
        #expect(json["files"]?.arrayValue?.map { $0["status"]?.stringValue } == ["complete", "skipped", "complete"])
        #expect(json["pieces"]?["skipped"] == .int(1))  // piece 2 holds b's bytes only
        #expect(json["missing_pieces"] == .array([]))
        // Damage in a parts byte is found: piece 1 carries b's first bytes, kept in the parts file.
        let parts = ResumeState.partsPath(output: out, infoHashes: made.torrent.infoHashes)
        let fd = open(parts, O_RDWR)
        var byte: UInt8 = 0
        _ = pread(fd, &byte, 1, 20_000)
        byte ^= 0xFF
        _ = pwrite(fd, &byte, 1, 20_000)
        close(fd)
        let damaged = try JSONParser().parse(CLI.run(["verify", "--json", out + "/set"]).stdout)
        #expect(damaged["bad_pieces"] == .array([.int(1)]))
    }

    @Test func wideningTheSelectionMovesPartsBytesIntoTheFiles() throws {
        let made = try fixture()
        let out = made.directory.file("out")
        let (old, verified) = try download(made, selection: FileSelection([0, 2]), into: out)
        let layout = old.layout
        let wider = try PieceStore(layout: layout, contentPath: out + "/set", access: .readWrite(.sparse), selection: FileSelection([0, 1, 2]),
                                   partsPath: ResumeState.partsPath(output: out, infoHashes: made.torrent.infoHashes))
        let hashes = try PieceHashes(torrent: made.torrent, layout: layout)
        let moved = try wider.adopt(from: old, trusting: verified) { hashes.matches($0, $1) }
        #expect(moved.lost.isEmpty)
        #expect(moved.moved == [1, 3])  // piece 2 holds b alone: never fetched, so not good anywhere
        #expect(moved.bytes > 0)
        // Without a resume state to trust, the hash check finds the same pieces.
        let again = try wider.adopt(from: old, trusting: Bitfield(pieceCount: layout.pieceCount)) { hashes.matches($0, $1) }
        #expect(again.moved == [1, 3])
        // b's bytes in pieces 1 and 3 are in place; piece 2 (b alone) still has to be fetched.
        let b = readBytes(made.path("b"))
        let written = readBytes(out + "/set/b")
        #expect(written.count == b.count)
        #expect(Array(written[0..<(32_768 - 20_000)]) == Array(b[0..<(32_768 - 20_000)]))
        #expect(Array(written[(49_152 - 20_000)...]) == Array(b[(49_152 - 20_000)...]))
        let source = try PieceStore(layout: layout, contentPath: made.content, access: .read)
        for raw in [0, 1, 3, 4] {
            let piece = layout.pieces.index(raw)!
            let expected = try source.readPiece(piece)
            #expect(try wider.readPiece(piece) == expected)
        }
    }
}
