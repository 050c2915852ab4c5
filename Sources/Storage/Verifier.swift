import Dispatch
import Foundation
import Metainfo
import Synchronization

/// A stop request shared between a signal handler and the workers.
public final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    public func cancel() { flag.store(true, ordering: .relaxed) }
    public var isCancelled: Bool { flag.load(ordering: .relaxed) }
}

/// The verdict on one piece.
public enum PieceVerdict: UInt8, Sendable {
    /// Not looked at (the run was cancelled first).
    case unchecked
    case good
    /// All its bytes are on disk and they hash wrong.
    case bad
    /// Some of its bytes are not on disk (a missing or short file).
    case missing
    /// Not wanted: it holds bytes of unselected files only (`tt download --files`).
    case skipped
}

/// Where a run is, for progress bars and JSON Lines progress.
public struct VerifyProgress: Sendable {
    public var piecesDone: Int
    public var pieceCount: Int
    public var bytesChecked: Int64
    /// Bytes that will be read when every present piece is checked.
    public var bytesToCheck: Int64
    public var bad: Int
    public var missing: Int
}

/// Checks data on disk against a torrent's piece hashes on all cores with bounded memory.
///
/// Pieces that are present are grouped into jobs of consecutive pieces (about `chunkSize` bytes each).
/// Each worker takes the next job, `pread`s it into its own reusable buffer (one `chunkSize` buffer per
/// worker; pieces larger than that stream through it) and hashes it. Reading on the worker spreads the
/// copy out of the page cache over the cores too, and the pool is `workers × chunkSize` bytes whatever
/// the size of the data. Consecutive jobs keep the reads near-sequential for the kernel's readahead.
public struct Verifier: Sendable {
    public struct Options: Sendable {
        public var workers: Int
        /// Bytes per read and per worker buffer.
        public var chunkSize: Int
        /// How chunks get from the page cache to the hasher.
        public var readMethod: ReadMethod
        /// Check only these pieces (a download's selected files); the rest are `skipped`. nil: all.
        public var only: Bitfield? = nil
        public init(workers: Int = ProcessInfo.processInfo.activeProcessorCount, chunkSize: Int = 4 << 20, readMethod: ReadMethod = .read) {
            self.workers = max(1, workers)
            self.chunkSize = max(64 * 1024, chunkSize)
            self.readMethod = readMethod
        }
    }

    public enum ReadMethod: String, Sendable {
        /// `pread` into each worker's reused buffer (the default: measured as fast, and memory stays bounded).
        case read
        /// `mmap` each chunk (`MAP_POPULATE`), hash from the mapping, `munmap`; chunks that cross files fall back to `read`.
        case mmap
    }

    public let store: PieceStore
    public let hashes: PieceHashes
    public let options: Options

    public init(store: PieceStore, hashes: PieceHashes, options: Options = Options()) {
        self.store = store
        self.hashes = hashes
        self.options = options
    }

    struct Job {
        let firstPiece: Int
        let pieceCount: Int
        let start: Int64
        let length: Int64
    }

    /// Checks every piece. `progress` is called from worker threads after each job.
    public func run(cancel: CancellationFlag = CancellationFlag(),
                    progress: (@Sendable (VerifyProgress) -> Void)? = nil) throws(StorageError) -> VerifyReport {
        let started = DispatchTime.now()
        let layout = store.layout
        let sizes = store.actualSizes()
        var verdicts = [PieceVerdict](repeating: .unchecked, count: layout.pieceCount)

        // Pieces with bytes beyond the end of a file on disk are missing without reading anything.
        for piece in verdicts.indices where options.only.map({ !$0[piece] }) ?? false { verdicts[piece] = .skipped }
        // Files kept in the parts file are not on disk by design; their bytes are read from there.
        for (index, file) in layout.files.enumerated() where !file.isPadding && file.length > 0 && !store.isInPartsFile(index) {
            let actual = sizes[index] ?? -1
            guard actual < file.length else { continue }
            let pieceLength = Int64(layout.pieceLength)
            let firstAbsent = file.offset + max(0, actual)
            for piece in Int(firstAbsent / pieceLength)..<layout.pieceRange(ofFile: index).upperBound where verdicts[piece] != .skipped {
                verdicts[piece] = .missing
            }
        }

        let jobs = makeJobs(verdicts: verdicts)
        let missingUpFront = verdicts.reduce(0) { $0 + ($1 == .missing ? 1 : 0) }
        let skipped = verdicts.reduce(0) { $0 + ($1 == .skipped ? 1 : 0) }
        let bytesToCheck = jobs.reduce(Int64(0)) { $0 + $1.length }

        let shared = Mutex<(verdicts: [PieceVerdict], progress: VerifyProgress, error: StorageError?)>(
            (verdicts, VerifyProgress(piecesDone: missingUpFront, pieceCount: layout.pieceCount - skipped, bytesChecked: 0,
                                      bytesToCheck: bytesToCheck, bad: 0, missing: missingUpFront), nil))
        let next = Atomic<Int>(0)
        let workers = min(options.workers, max(1, jobs.count))
        let chunkSize = options.chunkSize
        let options = self.options
        let store = self.store
        let hashes = self.hashes

        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 4096)
            defer { buffer.deallocate() }
            while !cancel.isCancelled {
                let jobIndex = next.add(1, ordering: .relaxed).oldValue
                guard jobIndex < jobs.count else { break }
                let job = jobs[jobIndex]
                do throws(StorageError) {
                    let results = try Self.check(job, store: store, hashes: hashes, buffer: buffer, mapped: options.readMethod == .mmap, cancel: cancel)
                    guard let results else { break }
                    let snapshot = shared.withLock { state -> VerifyProgress in
                        for (offset, verdict) in results.enumerated() {
                            state.verdicts[job.firstPiece + offset] = verdict
                            if verdict == .bad { state.progress.bad += 1 }
                            if verdict == .missing { state.progress.missing += 1 }
                        }
                        state.progress.piecesDone += results.count
                        state.progress.bytesChecked += job.length
                        return state.progress
                    }
                    progress?(snapshot)
                } catch {
                    shared.withLock { if $0.error == nil { $0.error = error } }
                    cancel.cancel()
                    break
                }
            }
        }

        let final = shared.withLock { $0 }
        if let error = final.error { throw error }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        return VerifyReport(layout: layout, verdicts: final.verdicts, actualSizes: sizes,
                            bytesChecked: final.progress.bytesChecked, seconds: seconds, cancelled: cancel.isCancelled,
                            skippedFiles: Set(layout.files.indices.filter { store.isInPartsFile($0) }))
    }

    /// Runs of present pieces, about `chunkSize` bytes each; v2-only jobs never cross a file.
    func makeJobs(verdicts: [PieceVerdict]) -> [Job] {
        let layout = store.layout
        var jobs: [Job] = []
        var first = -1
        var count = 0
        var length: Int64 = 0
        func close() {
            if count > 0 {
                jobs.append(Job(firstPiece: first, pieceCount: count, start: layout.pieces.offset(of: layout.pieces.index(first)!),
                                length: length))
            }
            count = 0
            length = 0
        }
        var nextStart: Int64 = -1
        for raw in 0..<layout.pieceCount {
            guard verdicts[raw] == .unchecked else { close(); continue }
            let piece = layout.pieces.index(raw)!
            let start = layout.pieces.offset(of: piece)
            let pieceBytes = Int64(layout.length(of: piece))
            // A job is one contiguous range of the stream: v2 alignment gaps end it.
            if count > 0 && (length + pieceBytes > Int64(options.chunkSize) || start != nextStart) { close() }
            if count == 0 { first = raw }
            count += 1
            length += pieceBytes
            nextStart = start + pieceBytes
        }
        close()
        return jobs
    }

    /// Reads and hashes one job; nil when cancelled part-way.
    static func check(_ job: Job, store: PieceStore, hashes: PieceHashes, buffer: UnsafeMutableRawBufferPointer,
                      mapped: Bool = false, cancel: CancellationFlag) throws(StorageError) -> [PieceVerdict]? {
        let layout = store.layout
        var verdicts: [PieceVerdict] = []
        verdicts.reserveCapacity(job.pieceCount)
        var piece = job.firstPiece
        var pieceRemaining = layout.length(of: layout.pieces.index(piece)!)
        var digest = hashes.digest(for: layout.pieces.index(piece)!)
        var pieceComplete = true
        var done: Int64 = 0
        while done < job.length {
            if cancel.isCancelled { return nil }
            let count = Int(min(Int64(buffer.count), job.length - done))
            func feed(_ chunk: UnsafeRawBufferPointer, complete: Bool) {
                var position = 0
                while position < count {
                    let take = min(pieceRemaining, count - position)
                    digest.update(UnsafeRawBufferPointer(rebasing: chunk[position..<position + take]))
                    pieceComplete = pieceComplete && complete  // a file shrank under us: call the chunk's pieces missing
                    position += take
                    pieceRemaining -= take
                    if pieceRemaining == 0 {
                        let finished = digest
                        verdicts.append(pieceComplete ? (finished.matches() ? .good : .bad) : .missing)
                        piece += 1
                        pieceComplete = true
                        if piece < job.firstPiece + job.pieceCount {
                            let index = layout.pieces.index(piece)!
                            pieceRemaining = layout.length(of: index)
                            digest = hashes.digest(for: index)
                        }
                    }
                }
            }
            let viaMapping: Void? = mapped ? try store.withMapped(offset: job.start + done, length: count) { feed($0, complete: true) } : nil
            if viaMapping == nil {
                let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[..<count])
                let complete = try store.read(offset: job.start + done, into: chunk)
                feed(UnsafeRawBufferPointer(chunk), complete: complete)
            }
            done += Int64(count)
        }
        return verdicts
    }
}
