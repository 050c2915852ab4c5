import Foundation
import Hashing
import Testing

@testable import Metainfo

// The reader and hasher `tt create` and `tt verify` share, checked byte for byte against a plain
// reference: the stream laid out in memory, each piece hashed with one SHA1/SHA256 call per hash.

/// Files in a temporary folder and the stream they make, gaps included.
private struct StreamFixture {
    let folder: String
    var segments: [PieceSource.Segment] = []
    /// The stream as the reader must produce it: file bytes, zeros in the gaps.
    var stream: [UInt8] = []

    init(_ name: String) {
        folder = NSTemporaryDirectory() + "tt-pipeline-\(name)-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    /// Appends `gap` zeros, then a file of `length` bytes.
    mutating func add(_ length: Int, gap: Int = 0, seed: UInt64) {
        stream += [UInt8](repeating: 0, count: gap)
        let bytes = randomBytes(length, seed: seed)
        let path = "\(folder)/f\(segments.count)"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        segments.append(.init(path: path, streamOffset: Int64(stream.count), length: Int64(length)))
        stream += bytes
    }

    var source: PieceSource { PieceSource(segments: segments) }

    func remove() { try? FileManager.default.removeItem(atPath: folder) }
}

private func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<count).map { _ in
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return UInt8(truncatingIfNeeded: state)
    }
}

/// Uniform pieces over a stream, each hashed the same way (what `create` does).
private struct UniformPlanning: PieceHashPlanning {
    let pieceLength: Int
    let total: Int
    let sha1: Bool
    let v2: Bool
    var pieceCount: Int { (total + pieceLength - 1) / pieceLength }
    func offset(of piece: Int) -> Int64 { Int64(piece * pieceLength) }
    func plan(of piece: Int) -> PieceHashPlan {
        let length = min(pieceLength, total - piece * pieceLength)
        return PieceHashPlan(length: length, sha1: sha1, v2Length: v2 ? length : 0, v2Leaves: v2 ? pieceLength / 16_384 : 0)
    }
}

/// The v2 piece hash the slow way: SHA-256 of each 16 KiB block, then `TorrentCreator.merkleRoot`.
private func referenceV2(_ bytes: ArraySlice<UInt8>, leaves: Int) -> [UInt8] {
    let blocks = stride(from: bytes.startIndex, to: bytes.endIndex, by: 16_384).map {
        SHA256.hash(bytes[$0..<min($0 + 16_384, bytes.endIndex)])
    }
    return TorrentCreator.merkleRoot(blocks, width: leaves)
}

/// Every job's results, gathered by piece.
private func runAll<P: PieceHashPlanning>(_ pipeline: PieceHashPipeline<P>) throws -> [Int: (sha1: [UInt8], v2: [UInt8], complete: Bool)] {
    let gathered = Mutex<[Int: (sha1: [UInt8], v2: [UInt8], complete: Bool)]>([:])
    try pipeline.run(pipeline.jobs()) { results in
        gathered.withLock { all in
            for index in 0..<results.job.pieceCount {
                all[results.job.firstPiece + index] = (Array(results.sha1[index * 20..<index * 20 + 20]),
                                                       Array(results.v2[index * 32..<index * 32 + 32]), results.complete[index])
            }
        }
        return true
    }
    return gathered.withLock { $0 }
}

import Synchronization

@Suite struct PieceSourceTests {
    @Test func readsAcrossFileBoundariesAndGapsAsTheStream() throws {
        var fixture = StreamFixture("bounds")
        defer { fixture.remove() }
        fixture.add(100_003, seed: 1)
        fixture.add(1, seed: 2)
        fixture.add(40_000, gap: 16_383, seed: 3)  // a pad-file-like run of zeros before it
        fixture.add(7, gap: 1, seed: 4)
        let reader = PieceSourceReader(fixture.source)
        let total = fixture.stream.count
        for (offset, count) in [(0, total), (100_000, 10), (100_002, 2), (100_003, 16_385), (99_999, 50_000), (total - 8, 8), (5, 0)] {
            var buffer = [UInt8](repeating: 0xEE, count: count)
            let shortfall = try buffer.withUnsafeMutableBytes { try reader.read(offset: Int64(offset), into: $0) }
            #expect(shortfall == nil)
            #expect(buffer == Array(fixture.stream[offset..<offset + count]), "\(count) bytes at \(offset)")
        }
        // Past the last file: zeros, nothing missing.
        var tail = [UInt8](repeating: 0xEE, count: 100)
        #expect(try tail.withUnsafeMutableBytes { try reader.read(offset: Int64(total - 50), into: $0) } == nil)
        #expect(tail == Array(fixture.stream[(total - 50)...]) + [UInt8](repeating: 0, count: 50))
    }

    @Test func aFileShorterThanItsSegmentOrAbsentReadsAsZerosAndSaysSo() throws {
        var fixture = StreamFixture("short")
        defer { fixture.remove() }
        fixture.add(1000, seed: 1)
        fixture.add(1000, seed: 2)
        _ = truncate(fixture.segments[0].path, 600)
        var buffer = [UInt8](repeating: 0xEE, count: 2000)
        let reader = PieceSourceReader(fixture.source)
        let short = try buffer.withUnsafeMutableBytes { try reader.read(offset: 0, into: $0) }
        #expect(short == ReadShortfall(shortfall: Shortfall(path: fixture.segments[0].path, absent: false), range: 600..<1000))
        #expect(buffer == Array(fixture.stream[..<600]) + [UInt8](repeating: 0, count: 400) + Array(fixture.stream[1000...]))

        unlink(fixture.segments[1].path)
        let absent = try buffer.withUnsafeMutableBytes { try PieceSourceReader(fixture.source).read(offset: 1000, into: UnsafeMutableRawBufferPointer(rebasing: $0[..<1000])) }
        #expect(absent == ReadShortfall(shortfall: Shortfall(path: fixture.segments[1].path, absent: true), range: 1000..<2000))
        #expect(buffer[..<1000].allSatisfy { $0 == 0 })
    }

    @Test func aSegmentCanStartInsideItsFile() throws {
        // A file kept in a parts file: its bytes sit at an offset inside another file.
        var fixture = StreamFixture("parts")
        defer { fixture.remove() }
        fixture.add(5000, seed: 9)
        let inner = PieceSource(segments: [.init(path: fixture.segments[0].path, fileOffset: 1234, streamOffset: 0, length: 3000)])
        var buffer = [UInt8](repeating: 0, count: 3000)
        #expect(try buffer.withUnsafeMutableBytes { try PieceSourceReader(inner).read(offset: 0, into: $0) } == nil)
        #expect(buffer == Array(fixture.stream[1234..<4234]))
    }

    @Test func mappedRangesGiveTheSameBytes() throws {
        var fixture = StreamFixture("mmap")
        defer { fixture.remove() }
        fixture.add(70_000, seed: 5)
        fixture.add(30_000, gap: 100, seed: 6)
        let reader = PieceSourceReader(fixture.source)
        var buffer = [UInt8](repeating: 0, count: 80_000)
        for (offset, count) in [(4097, 60_000), (69_000, 5000), (0, 70_000)] {  // inside a file, across a gap, a whole file
            let seen = try buffer.withUnsafeMutableBytes { buffer in
                try reader.withBytes(offset: Int64(offset), count: count, buffer: buffer, method: .mmap) { bytes, shortfall in
                    (Array(bytes), shortfall)
                }
            }
            #expect(seen.1 == nil)
            #expect(seen.0 == Array(fixture.stream[offset..<offset + count]), "\(count) at \(offset)")
        }
    }
}

@Suite struct PieceHashPipelineTests {
    /// Odd sizes over several files, a short last piece, piece sizes below, at and above half the buffer.
    @Test(arguments: [16_384, 32_768, 131_072, 262_144, 1 << 20])
    func digestsMatchTheReferenceForEveryVersionBufferAndWorkerCount(pieceLength: Int) throws {
        var fixture = StreamFixture("digests")
        defer { fixture.remove() }
        // 2.5 MiB: several pieces of each size, so pairs of eight whole leaves (the sixteen-lane path) come up too.
        for (index, size) in [100_000, 1, 16_384, 333_333, 65_537, 2 << 20].enumerated() { fixture.add(size, seed: UInt64(index + 10)) }
        let total = fixture.stream.count
        for (sha1, v2) in [(true, false), (false, true), (true, true)] {
            let planning = UniformPlanning(pieceLength: pieceLength, total: total, sha1: sha1, v2: v2)
            for (workers, chunk) in [(1, 4 << 20), (3, 65_536), (2, 100_000)] {
                let results = try runAll(PieceHashPipeline(source: fixture.source, planning: planning,
                                                           options: .init(workers: workers, chunkSize: chunk)))
                #expect(results.count == planning.pieceCount)
                for piece in 0..<planning.pieceCount {
                    let start = piece * pieceLength
                    let bytes = fixture.stream[start..<min(start + pieceLength, total)]
                    let got = try #require(results[piece])
                    #expect(got.complete)
                    #expect(got.sha1 == (sha1 ? SHA1.hash(bytes) : [UInt8](repeating: 0, count: 20)), "SHA-1 of \(piece), \(workers)×\(chunk)")
                    #expect(got.v2 == (v2 ? referenceV2(bytes, leaves: pieceLength / 16_384) : [UInt8](repeating: 0, count: 32)),
                            "v2 of \(piece) (sha1: \(sha1)), \(workers)×\(chunk)")
                }
            }
        }
    }

    @Test func v2CoversOnlyTheFileBytesAndSmallFilesUseTheirOwnWidth() throws {
        // As in a hybrid torrent: each file starts a piece, pad zeros fill the rest; SHA-1 covers the pad.
        var fixture = StreamFixture("aligned")
        defer { fixture.remove() }
        let pieceLength = 65_536
        fixture.add(100_000, seed: 1)                              // pieces 0-1, the second 34464 bytes of data
        fixture.add(20_000, gap: 2 * pieceLength - 100_000, seed: 2)  // piece 2: a small file, 2 leaves → width 2
        fixture.add(1, gap: pieceLength - 20_000, seed: 3)          // piece 3: 1 byte
        struct Aligned: PieceHashPlanning {
            let data: [Int]
            let small: [Bool]
            var pieceCount: Int { data.count }
            func offset(of piece: Int) -> Int64 { Int64(piece * 65_536) }
            func plan(of piece: Int) -> PieceHashPlan {
                let leaves = (data[piece] + 16_383) / 16_384
                return PieceHashPlan(length: piece == 3 ? 1 : 65_536, sha1: true, v2Length: data[piece],
                                     v2Leaves: small[piece] ? PieceHashPlan.treeWidth(leaves) : 4)
            }
        }
        let planning = Aligned(data: [65_536, 34_464, 20_000, 1], small: [false, false, true, true])
        let results = try runAll(PieceHashPipeline(source: fixture.source, planning: planning, options: .init(workers: 2)))
        for piece in 0..<4 {
            let start = piece * pieceLength
            let length = piece == 3 ? 1 : pieceLength
            let got = try #require(results[piece])
            #expect(got.sha1 == SHA1.hash(fixture.stream[start..<start + length]), "SHA-1 of \(piece)")
            let width = piece == 2 ? 2 : (piece == 3 ? 1 : 4)
            #expect(got.v2 == referenceV2(fixture.stream[start..<start + planning.data[piece]], leaves: width), "v2 of \(piece)")
        }
    }

    @Test func jobsAreContiguousHoldTwoBigPiecesAndSkipWhatIsLeftOut() {
        let planning = UniformPlanning(pieceLength: 262_144, total: 10 * 262_144 + 5, sha1: true, v2: false)
        let pipeline = PieceHashPipeline(source: PieceSource(segments: []), planning: planning, options: .init(workers: 1, chunkSize: 65_536))
        let jobs = pipeline.jobs { $0 != 4 }
        #expect(jobs.map(\.firstPiece) == [0, 2, 5, 7, 9])
        #expect(jobs.map(\.pieceCount) == [2, 2, 2, 2, 2])
        #expect(jobs.last!.length == 262_144 + 5)
        let small = PieceHashPipeline(source: PieceSource(segments: []), planning: UniformPlanning(pieceLength: 16_384, total: 20 * 16_384, sha1: true, v2: false),
                                      options: .init(workers: 1, chunkSize: 65_536))
        #expect(small.jobs().map(\.pieceCount) == [4, 4, 4, 4, 4])
    }

    @Test func piecesReadShortAreIncompleteAndNamed() throws {
        var fixture = StreamFixture("incomplete")
        defer { fixture.remove() }
        fixture.add(50_000, seed: 1)
        fixture.add(50_000, seed: 2)
        _ = truncate(fixture.segments[1].path, 10_000)  // stream bytes 60000..<100000 are gone
        let planning = UniformPlanning(pieceLength: 16_384, total: 100_000, sha1: true, v2: false)
        let pipeline = PieceHashPipeline(source: fixture.source, planning: planning, options: .init(workers: 1, chunkSize: 1 << 20))
        var shortfall: Shortfall?
        let seen = Mutex<Shortfall?>(nil)
        try pipeline.run(pipeline.jobs()) { results in
            seen.withLock { $0 = $0 ?? results.shortfall }
            return true
        }
        shortfall = seen.withLock { $0 }
        #expect(shortfall == Shortfall(path: fixture.segments[1].path, absent: false))
        // Only the pieces holding stream bytes 60000..<100000 are incomplete; the others hash as usual.
        let results = try runAll(pipeline)
        #expect((0..<planning.pieceCount).filter { !results[$0]!.complete } == [3, 4, 5, 6])
        for piece in 0...2 { #expect(results[piece]!.sha1 == SHA1.hash(fixture.stream[piece * 16_384..<(piece + 1) * 16_384])) }
    }

    @Test func aSinkThatSaysStopStopsTheRun() throws {
        var fixture = StreamFixture("stop")
        defer { fixture.remove() }
        fixture.add(1 << 20, seed: 1)
        let planning = UniformPlanning(pieceLength: 16_384, total: 1 << 20, sha1: true, v2: false)
        let pipeline = PieceHashPipeline(source: fixture.source, planning: planning, options: .init(workers: 1, chunkSize: 65_536))
        let calls = Mutex(0)
        try pipeline.run(pipeline.jobs()) { _ in calls.withLock { $0 += 1; return false } }
        #expect(calls.withLock { $0 } == 1)
    }

    @Test func anUnreadableFileIsAReadError() throws {
        var fixture = StreamFixture("unreadable")
        defer { fixture.remove() }
        fixture.add(1000, seed: 1)
        let folder = PieceSource(segments: [.init(path: fixture.folder, streamOffset: 0, length: 1000)])  // a folder cannot be read
        let pipeline = PieceHashPipeline(source: folder, planning: UniformPlanning(pieceLength: 16_384, total: 1000, sha1: true, v2: false),
                                         options: .init(workers: 1))
        #expect(throws: PieceReadError.self) { try pipeline.run(pipeline.jobs()) { _ in true } }
    }
}

@Suite struct CreateReadErrorTests {
    private func hash(_ source: PieceSource, total: Int64) -> String? {
        let planning = TorrentCreator.CreatePlanning(pieceLength: 16_384, totalLength: total, wantsV1: true, v2Pieces: nil)
        do {
            _ = try TorrentCreator.hashPieces(planning, source: source, counter: ProgressCounter(total: total, report: nil))
            return nil
        } catch {
            return error.description
        }
    }

    @Test func aFileThatShrankOrVanishedIsNamedInOneLine() throws {
        var fixture = StreamFixture("create-errors")
        defer { fixture.remove() }
        fixture.add(40_000, seed: 1)
        let path = fixture.segments[0].path
        #expect(hash(fixture.source, total: 40_000) == nil)
        // scan() saw 50000 bytes; the file holds 40000 by the time it is read.
        let longer = PieceSource(segments: [.init(path: path, streamOffset: 0, length: 50_000)])
        #expect(hash(longer, total: 50_000) == "\(path): file shrank while hashing")
        unlink(path)
        #expect(hash(fixture.source, total: 40_000) == "\(path): cannot open for reading (No such file or directory)")
        let folder = PieceSource(segments: [.init(path: fixture.folder, streamOffset: 0, length: 100)])
        #expect(hash(folder, total: 100) == "\(fixture.folder): Is a directory")
    }
}
