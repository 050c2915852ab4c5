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

    @Test func symlinksNeverReachTheDiskAndExecutablesGetTheirBit() throws {
        let links = try FileLayout(torrent: torrent("good/bep47-symlink-without-length.torrent"))
        #expect(links.files.map(\.isPadding) == [false, true, false])
        let layout = try FileLayout(torrent: torrent("good/bep47-executable-and-hidden.torrent"))
        #expect(layout.files.map(\.isExecutable) == [true, false, true])
        let directory = TemporaryDirectory()
        _ = try PieceStore(layout: layout, contentPath: directory.file("d"), access: .readWrite(.sparse))
        var info = stat()
        #expect(stat(directory.file("d/run.sh"), &info) == 0 && info.st_mode & 0o100 != 0, "run.sh is not executable")
        #expect(stat(directory.file("d/.hidden"), &info) == 0 && info.st_mode & 0o100 == 0)
        let linked = try FileLayout(torrent: torrent("good/bep47-symlink-without-length.torrent"))
        _ = try PieceStore(layout: linked, contentPath: directory.file("l"), access: .readWrite(.sparse))
        #expect(lstat(directory.file("l/l"), &info) != 0, "a symlink entry was created on disk")
        #expect(FileManager.default.fileExists(atPath: directory.file("l/b")))
    }
}
