import Foundation
import Metainfo
@testable import Storage
import TestSupport
import Testing

/// A descriptor evicted from PieceStore's cache is fsynced first; when that fsync fails, the
/// next flush (the checkpoint) fails, so the resume state never records writes that may be lost.
@Suite struct DescriptorEvictionTests {
    @Test func anFsyncFailureOnEvictionFailsTheNextFlush() throws {
        // Six one-piece files, at most four descriptors open: writing all six evicts dirty ones.
        let fixture = try Fixture(files: (0..<6).map { ("f\($0)", 16384) }, pieceLength: 16384)
        let layout = try FileLayout(torrent: fixture.torrent)
        let output = TemporaryDirectory()
        let store = try PieceStore(layout: layout, contentPath: output.file("data"), access: .readWrite(.sparse), maxOpenFiles: 4)
        store.descriptors.syncFile = { _ in errno = EIO; return -1 }
        for piece in 0..<6 { try store.writePiece(try #require(layout.pieces.index(piece)), [UInt8](repeating: UInt8(piece), count: 16384)) }
        // The disk works again by the checkpoint: only the eviction's failure is left to report.
        store.descriptors.syncFile = { fsync($0) }
        let error = #expect(throws: StorageError.self) { try store.flush() }
        #expect("\(error.map { "\($0)" } ?? "")".contains("/data/f"), "the failure names the file")
        // Reported once: the checkpoint after that one succeeds.
        #expect(throws: Never.self) { try store.flush() }
    }

    @Test func evictionWithAWorkingDiskFlushesCleanly() throws {
        let fixture = try Fixture(files: (0..<6).map { ("f\($0)", 16384) }, pieceLength: 16384)
        let layout = try FileLayout(torrent: fixture.torrent)
        let output = TemporaryDirectory()
        let store = try PieceStore(layout: layout, contentPath: output.file("data"), access: .readWrite(.sparse), maxOpenFiles: 4)
        for piece in 0..<6 { try store.writePiece(try #require(layout.pieces.index(piece)), [UInt8](repeating: UInt8(piece), count: 16384)) }
        #expect(throws: Never.self) { try store.flush() }
        #expect(readBytes(output.file("data/f5")) == [UInt8](repeating: 5, count: 16384))
    }
}
