import Dispatch
import FoundationEssentials
import Glibc
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
/// The pieces that are present go through `PieceHashPipeline`, the reader and hasher `tt create` uses
/// too: jobs of consecutive pieces (about `chunkSize` bytes each), each worker `pread`ing its job into its
/// own reusable buffer and hashing it there, two pieces side by side. Reading on the workers spreads the
/// copy out of the page cache over the cores, and the pool is `workers × chunkSize` bytes whatever the
/// size of the data. Consecutive jobs keep the reads near-sequential for the kernel's readahead.
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

    /// `read` (`pread` into each worker's reused buffer, the default) or `mmap` (`MAP_POPULATE`; ranges
    /// that cross files are read).
    public typealias ReadMethod = PieceSource.ReadMethod

    public let store: PieceStore
    public let hashes: PieceHashes
    public let options: Options

    public init(store: PieceStore, hashes: PieceHashes, options: Options = Options()) {
        self.store = store
        self.hashes = hashes
        self.options = options
    }

    /// The pipeline's view of the torrent: its pieces as `layout` places them, hashed as `hashes` needs.
    struct Planning: PieceHashPlanning {
        let hashes: PieceHashes
        var pieceCount: Int { hashes.layout.pieceCount }
        func offset(of piece: Int) -> Int64 { hashes.layout.pieces.offset(of: hashes.layout.pieces.index(piece)!) }
        func plan(of piece: Int) -> PieceHashPlan { hashes.plan(hashes.layout.pieces.index(piece)!) }
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

        let pipeline = PieceHashPipeline(source: store.pieceSource, planning: Planning(hashes: hashes),
                                         options: .init(workers: options.workers, chunkSize: options.chunkSize, readMethod: options.readMethod))
        let jobs = pipeline.jobs { [verdicts] in verdicts[$0] == .unchecked }
        let missingUpFront = verdicts.reduce(0) { $0 + ($1 == .missing ? 1 : 0) }
        let skipped = verdicts.reduce(0) { $0 + ($1 == .skipped ? 1 : 0) }
        let bytesToCheck = jobs.reduce(Int64(0)) { $0 + $1.length }

        let shared = Mutex<(verdicts: [PieceVerdict], progress: VerifyProgress)>(
            (verdicts, VerifyProgress(piecesDone: missingUpFront, pieceCount: layout.pieceCount - skipped, bytesChecked: 0,
                                      bytesToCheck: bytesToCheck, bad: 0, missing: missingUpFront)))
        let hashes = self.hashes
        do {
            try pipeline.run(jobs, isCancelled: { cancel.isCancelled }) { results in
                let job = results.job
                // A file that shrank under us: the pieces read short are missing, not bad.
                let found = (0..<job.pieceCount).map { offset -> PieceVerdict in
                    guard results.complete[offset] else { return .missing }
                    let piece = layout.pieces.index(job.firstPiece + offset)!
                    return hashes.judge(piece, sha1: results.sha1[offset * 20..<offset * 20 + 20],
                                        v2: results.v2[offset * 32..<offset * 32 + 32]) ? .good : .bad
                }
                let snapshot = shared.withLock { state -> VerifyProgress in
                    for (offset, verdict) in found.enumerated() {
                        state.verdicts[job.firstPiece + offset] = verdict
                        if verdict == .bad { state.progress.bad += 1 }
                        if verdict == .missing { state.progress.missing += 1 }
                    }
                    state.progress.piecesDone += found.count
                    state.progress.bytesChecked += job.length
                    return state.progress
                }
                progress?(snapshot)
                return true
            }
        } catch {
            throw StorageError.io(path: error.path, operation: error.operation, errno: error.errno)
        }

        let final = shared.withLock { $0 }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        return VerifyReport(layout: layout, verdicts: final.verdicts, actualSizes: sizes,
                            bytesChecked: final.progress.bytesChecked, seconds: seconds, cancelled: cancel.isCancelled,
                            skippedFiles: Set(layout.files.indices.filter { store.isInPartsFile($0) }))
    }
}
