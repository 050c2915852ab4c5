import Foundation
import Metainfo
import Storage
import TestSupport
import Testing

/// How BEP 47 attributes and odd names reach the disk (tt-download(1) "NAMES AND ATTRIBUTES").
@Suite struct AttributeLayoutTests {
    func torrent(_ name: String) throws -> Torrent { try Torrent(bytes: readBytes(fixture(name))) }

    @Test func controlCharactersInNamesAreWrittenAsUnderscores() throws {
        let layout = try FileLayout(torrent: torrent("good/name-with-ansi-escape.torrent"))
        #expect(layout.name == "_[1mbold")
        #expect(layout.files.map(\.displayPath) == ["_[2J_[31mred", "_]0;title_"])
        let repaired = try FileLayout(torrent: torrent("good/name-not-utf8.torrent"))
        #expect(repaired.name == "d_" && repaired.files[0].path == ["caf_xt"])
    }

    @Test func symlinksHoldNoDataAndExecutablesGetTheirBit() throws {
        let links = try FileLayout(torrent: torrent("good/bep47-symlink-without-length.torrent"))
        #expect(links.files.map(\.isPadding) == [false, true, false])
        let layout = try FileLayout(torrent: torrent("good/bep47-executable-and-hidden.torrent"))
        #expect(layout.files.map(\.isExecutable) == [true, false, true])
        let directory = TemporaryDirectory()
        _ = try PieceStore(layout: layout, contentPath: directory.file("d"), access: .readWrite(.sparse))
        var info = stat()
        #expect(stat(directory.file("d/run.sh"), &info) == 0 && info.st_mode & 0o100 != 0, "run.sh is not executable")
        #expect(stat(directory.file("d/.hidden"), &info) == 0 && info.st_mode & 0o100 == 0)
    }

    @Test func symlinksInsideTheTorrentAreMadeRelativeAndNoOthers() throws {
        let directory = TemporaryDirectory()
        let linked = try FileLayout(torrent: torrent("good/bep47-symlink-without-length.torrent"))
        _ = try PieceStore(layout: linked, contentPath: directory.file("l"), access: .readWrite(.sparse))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: directory.file("l/l")) == "a")
        #expect(FileManager.default.fileExists(atPath: directory.file("l/b")))
        // A link leaving the torrent: refused by Metainfo, and Storage would not make it either.
        let outside = try Torrent(bytes: readBytes(fixture("bad/symlink-outside-torrent.torrent")), lenient: true)
        _ = try PieceStore(layout: try FileLayout(torrent: outside), contentPath: directory.file("o"), access: .readWrite(.sparse))
        var info = stat()
        #expect(lstat(directory.file("o/l"), &info) != 0, "a link leading outside was made")
        #expect(SymlinkMaker.relativeTarget(link: ["sub", "l"], target: ["data", "a.bin"]) == "../data/a.bin")
        #expect(SymlinkMaker.relativeTarget(link: ["l"], target: ["..", "etc"]) == nil)
        #expect(SymlinkMaker.relativeTarget(link: ["l"], target: ["x", "..", "..", "etc"]) == nil)
    }
}
