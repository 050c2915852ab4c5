import Metainfo
import Storage
import Testing

@Suite struct FileLayoutTests {
    static func layout(_ files: [(String, Int64, Bool)], pieceLength: Int, version: Torrent.Version = .v1) -> FileLayout {
        var offset: Int64 = 0
        var list: [StorageFile] = []
        for (index, (name, length, pad)) in files.enumerated() {
            list.append(StorageFile(torrentIndex: index, path: [name], length: length, offset: offset, isPadding: pad, piecesRoot: nil))
            offset += length
        }
        return FileLayout(name: "t", isMultiFile: true, version: version, files: list,
                          pieces: PieceLayout(pieceLength: pieceLength, totalLength: offset))
    }

    @Test func pieceCrossingSeveralFilesAndSkippingEmptyOnes() {
        // a: 0..<10, empty: -, b: 10..<13, c: 13..<40 ; pieces of 16
        let layout = Self.layout([("a", 10, false), ("empty", 0, false), ("b", 3, false), ("c", 27, false)], pieceLength: 16)
        #expect(layout.pieceCount == 3)
        let spans = layout.spans(of: layout.pieces.index(0)!)
        #expect(spans.map(\.file) == [0, 2, 3])
        #expect(spans.map(\.fileOffset) == [0, 0, 0])
        #expect(spans.map(\.rangeOffset) == [0, 10, 13])
        #expect(spans.map(\.length) == [10, 3, 3])
        let last = layout.spans(of: layout.pieces.index(2)!)
        #expect(last == [FileSpan(file: 3, fileOffset: 19, rangeOffset: 0, length: 8)])
        #expect(layout.length(of: layout.pieces.index(2)!) == 8)
        #expect(layout.pieceRange(ofFile: 0) == 0..<1)
        #expect(layout.pieceRange(ofFile: 1).isEmpty)
        #expect(layout.pieceRange(ofFile: 3) == 0..<3)
    }

    @Test func padFilesAreSpansTooButNotData() {
        let layout = Self.layout([("a", 5, false), (".pad/11", 11, true), ("b", 16, false)], pieceLength: 16)
        let spans = layout.spans(of: layout.pieces.index(0)!)
        #expect(spans.map(\.file) == [0, 1])
        #expect(layout.files[spans[1].file].isPadding)
        #expect(layout.dataLength == 21)
        #expect(layout.spans(of: layout.pieces.index(1)!).map(\.file) == [2])
    }

    @Test func arbitraryRangesAndFileLookup() {
        let layout = Self.layout([("a", 100, false), ("b", 50, false), ("c", 1, false)], pieceLength: 64)
        let spans = layout.spans(offset: 90, length: 61)
        #expect(spans.map(\.length) == [10, 50, 1])
        #expect(layout.fileContaining(0) == 0)
        #expect(layout.fileContaining(100) == 1)
        #expect(layout.fileContaining(150) == 2)
        #expect(layout.fileContaining(151) == nil)
    }

    @Test func v2LayoutAlignsEveryFileToAPiece() throws {
        let fixture = try Fixture(files: [("a", 20_000), ("b", 5_000), ("c/d", 40_000)], pieceLength: 16384, version: .v2)
        let layout = try FileLayout(torrent: fixture.torrent)
        #expect(layout.version == .v2)
        #expect(layout.files.map(\.offset) == [0, 32768, 49152])
        #expect(layout.pieceCount == 6)  // 2 + 1 + 3
        #expect(layout.length(of: layout.pieces.index(1)!) == 20_000 - 16384)
        #expect(layout.length(of: layout.pieces.index(2)!) == 5_000)
        #expect(layout.length(of: layout.pieces.index(5)!) == 40_000 - 32768)
        #expect(layout.pieceRange(ofFile: 2) == 3..<6)
    }

    @Test func hybridLayoutFollowsTheV1StreamWithPads() throws {
        let fixture = try Fixture(files: [("a", 20_000), ("b", 5_000)], pieceLength: 16384, version: .hybrid)
        let layout = try FileLayout(torrent: fixture.torrent)
        #expect(layout.version == .hybrid)
        #expect(layout.files.contains { $0.isPadding })
        let real = layout.files.filter { !$0.isPadding }
        #expect(real.allSatisfy { $0.offset % 16384 == 0 })
        #expect(real.allSatisfy { $0.piecesRoot != nil })
    }
}
