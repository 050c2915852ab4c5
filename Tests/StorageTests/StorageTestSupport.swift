import Foundation
import Hashing
import Metainfo
import Storage
import TestSupport

/// Test data on disk with a torrent made by `TorrentCreator`.
struct Fixture {
    let directory: TemporaryDirectory
    /// The single file or the root folder.
    let content: String
    let torrentPath: String
    let torrentBytes: [UInt8]
    let torrent: Torrent

    /// `files`: (relative path, size) — one entry with an empty path makes a single-file torrent named `name`.
    init(name: String = "data", files: [(String, Int)], pieceLength: Int = 16384, version: Torrent.Version = .v1, seed: UInt64 = 1) throws {
        directory = TemporaryDirectory("tt-storage")
        let single = files.count == 1 && files[0].0.isEmpty
        content = directory.file(name)
        for (index, (path, size)) in files.enumerated() {
            let bytes = pseudoRandomBytes(count: size, seed: seed &+ UInt64(index) &* 7919)
            directory.write(single ? name : "\(name)/\(path)", bytes)
        }
        var options = TorrentCreator.Options()
        options.pieceLength = pieceLength
        options.version = version
        torrentBytes = try TorrentCreator(options: options).create(path: content)
        torrentPath = directory.write("\(name).torrent", torrentBytes)
        torrent = try Torrent(bytes: torrentBytes)
    }

    func path(_ relative: String) -> String { relative.isEmpty ? content : "\(content)/\(relative)" }

    /// Flips one byte of a file.
    func flipByte(_ relative: String, at offset: Int) {
        let path = path(relative)
        let fd = open(path, O_RDWR)
        var byte: UInt8 = 0
        _ = pread(fd, &byte, 1, off_t(offset))
        byte ^= 0xFF
        _ = pwrite(fd, &byte, 1, off_t(offset))
        close(fd)
    }

    func truncate(_ relative: String, to size: Int) { _ = Glibc.truncate(path(relative), off_t(size)) }

    func append(_ relative: String, bytes: Int) {
        let handle = FileHandle(forWritingAtPath: path(relative))!
        handle.seekToEndOfFile()
        handle.write(Data(repeating: 0x41, count: bytes))
        try? handle.close()
    }

    func remove(_ relative: String) { try? FileManager.default.removeItem(atPath: path(relative)) }

    func verify(workers: Int = 2, chunkSize: Int = 4 << 20, readMethod: Verifier.ReadMethod = .read) throws -> VerifyReport {
        let layout = try FileLayout(torrent: torrent)
        let store = try PieceStore(layout: layout, contentPath: content, access: .read)
        let hashes = try PieceHashes(torrent: torrent, layout: layout)
        return try Verifier(store: store, hashes: hashes, options: .init(workers: workers, chunkSize: chunkSize, readMethod: readMethod)).run()
    }
}

extension VerifyReport {
    func status(_ path: String) -> FileStatus? { files.first { $0.file.displayPath == path }?.status }
}
