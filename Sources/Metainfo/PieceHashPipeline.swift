import Dispatch
import Synchronization

/// The pieces of a stream and how each is hashed, for `PieceHashPipeline`.
public protocol PieceHashPlanning: Sendable {
    var pieceCount: Int { get }
    /// Where piece `piece` starts in the stream.
    func offset(of piece: Int) -> Int64
    func plan(of piece: Int) -> PieceHashPlan
}

/// Consecutive pieces, one contiguous range of the stream, that one worker reads and hashes.
public struct PieceHashJob: Sendable, Equatable {
    public let firstPiece: Int
    public let pieceCount: Int
    public let start: Int64
    public let length: Int64
}

/// What a job's pieces hashed to.
public struct PieceHashResults: Sendable {
    public let job: PieceHashJob
    /// 20 bytes per piece (zeros where the plan has no SHA-1).
    public internal(set) var sha1: [UInt8]
    /// 32 bytes per piece: the v2 piece hash (zeros where the plan has no v2).
    public internal(set) var v2: [UInt8]
    /// False for a piece some of whose bytes the disk lacked (they were hashed as zeros).
    public internal(set) var complete: [Bool]
    /// The first file found absent or short.
    public internal(set) var shortfall: Shortfall?
}

/// Reads and hashes pieces on all cores with bounded memory: the one pipeline of `tt create` and `tt verify`.
///
/// Each worker takes the next job, reads it in large reads into its own reusable buffer (so the copy out
/// of the page cache is spread over the cores too) and hashes it. A job's pieces are hashed in two lanes,
/// the first half of the job beside the second, so the SHA unit always has two chains to run (see
/// `Interleaved`); pieces larger than half the buffer stream through it, a slice of each lane at a time.
/// Memory is `workers × chunkSize` whatever the size of the data.
public struct PieceHashPipeline<Planning: PieceHashPlanning>: Sendable {
    public struct Options: Sendable {
        public var workers: Int
        /// Bytes per worker buffer; a job is about this long.
        public var chunkSize: Int
        public var readMethod: PieceSource.ReadMethod

        public init(workers: Int, chunkSize: Int = 4 << 20, readMethod: PieceSource.ReadMethod = .read) {
            self.workers = max(1, workers)
            self.chunkSize = max(64 * 1024, chunkSize)
            self.readMethod = readMethod
        }
    }

    public let source: PieceSource
    public let planning: Planning
    public let options: Options

    public init(source: PieceSource, planning: Planning, options: Options) {
        self.source = source
        self.planning = planning
        self.options = options
    }

    /// Runs of the pieces `include` accepts, about `chunkSize` bytes each (at least two pieces, so both
    /// lanes have one); a job never spans a gap between pieces (v2 alignment).
    public func jobs(including include: (Int) -> Bool = { _ in true }) -> [PieceHashJob] {
        var jobs: [PieceHashJob] = []
        var first = 0, count = 0
        var start: Int64 = 0, length: Int64 = 0
        func close() {
            if count > 0 { jobs.append(PieceHashJob(firstPiece: first, pieceCount: count, start: start, length: length)) }
            count = 0
            length = 0
        }
        for piece in 0..<planning.pieceCount {
            guard include(piece) else { close(); continue }
            let offset = planning.offset(of: piece)
            let bytes = Int64(planning.plan(of: piece).length)
            if count > 0 && (offset != start + length || (count >= 2 && length + bytes > Int64(options.chunkSize))) { close() }
            if count == 0 { first = piece; start = offset }
            count += 1
            length += bytes
        }
        close()
        return jobs
    }

    /// Hashes every job, handing each job's results to `sink` (from worker threads, in no particular
    /// order). Stops early when `isCancelled` turns true, `sink` returns false or a read fails; the
    /// first read error is thrown once every worker has stopped.
    public func run(_ jobs: [PieceHashJob], isCancelled: @Sendable () -> Bool = { false },
                    sink: @Sendable (PieceHashResults) -> Bool) throws(PieceReadError) {
        let next = Atomic<Int>(0)
        let stop = Atomic<Bool>(false)
        let failure = Mutex<PieceReadError?>(nil)
        let workers = min(options.workers, max(1, jobs.count))
        let chunkSize = options.chunkSize
        let source = self.source, planning = self.planning, method = options.readMethod
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 4096)
            defer { buffer.deallocate() }
            let reader = PieceSourceReader(source)
            while !stop.load(ordering: .relaxed) && !isCancelled() {
                let index = next.add(1, ordering: .relaxed).oldValue
                guard index < jobs.count else { break }
                do throws(PieceReadError) {
                    let worker = JobHasher(planning: planning, reader: reader, buffer: buffer, method: method)
                    guard let results = try worker.hash(jobs[index], isCancelled: isCancelled), sink(results) else {
                        stop.store(true, ordering: .relaxed)
                        break
                    }
                } catch {
                    failure.withLock { $0 = $0 ?? error }
                    stop.store(true, ordering: .relaxed)
                    break
                }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
    }
}

/// One job on one worker: two lanes (the job's first and second halves) read a slice at a time into the
/// two halves of the buffer and hashed side by side.
private struct JobHasher<Planning: PieceHashPlanning> {
    let planning: Planning
    let reader: PieceSourceReader
    let buffer: UnsafeMutableRawBufferPointer
    let method: PieceSource.ReadMethod

    /// One half of a job: its pieces, where the next slice starts, and the piece being hashed.
    struct Lane {
        var nextPiece: Int
        let endPiece: Int
        var position: Int64
        let end: Int64
        var current: (piece: Int, state: PieceHashState, remaining: Int)?
        /// Stream bytes the disk lacked in this lane's slices so far.
        var gaps: [Range<Int64>] = []
    }

    func hash(_ job: PieceHashJob, isCancelled: () -> Bool) throws(PieceReadError) -> PieceHashResults? {
        var results = PieceHashResults(job: job, sha1: [UInt8](repeating: 0, count: job.pieceCount * 20),
                                       v2: [UInt8](repeating: 0, count: job.pieceCount * 32),
                                       complete: [Bool](repeating: true, count: job.pieceCount), shortfall: nil)
        let split = job.firstPiece + (job.pieceCount + 1) / 2
        let end = job.start + job.length
        let middle = split < job.firstPiece + job.pieceCount ? planning.offset(of: split) : end
        var a = Lane(nextPiece: job.firstPiece, endPiece: split, position: job.start, end: middle)
        var b = Lane(nextPiece: split, endPiece: job.firstPiece + job.pieceCount, position: middle, end: end)
        // Slices of whole 16 KiB leaves keep every hash chain block-aligned, on the fast path.
        let half = max(PieceHashPlan.leafSize, buffer.count / 2 / PieceHashPlan.leafSize * PieceHashPlan.leafSize)
        let bufferA = UnsafeMutableRawBufferPointer(rebasing: buffer[..<half])
        let bufferB = UnsafeMutableRawBufferPointer(rebasing: buffer[half..<2 * half])
        while a.position < a.end || b.position < b.end {
            if isCancelled() { return nil }
            let countA = Int(min(Int64(half), a.end - a.position)), countB = Int(min(Int64(half), b.end - b.position))
            try reader.withBytes(offset: a.position, count: countA, buffer: bufferA, method: method) { bytesA, shortA throws(PieceReadError) in
                try reader.withBytes(offset: b.position, count: countB, buffer: bufferB, method: method) { bytesB, shortB throws(PieceReadError) in
                    results.shortfall = results.shortfall ?? shortA?.shortfall ?? shortB?.shortfall
                    if let shortA { a.gaps.append(shortA.range) }
                    if let shortB { b.gaps.append(shortB.range) }
                    feed(&a, bytesA, &b, bytesB, into: &results)
                }
            }
            a.position += Int64(countA)
            b.position += Int64(countB)
        }
        start(&a, results: &results)  // pieces of no bytes at the very end
        start(&b, results: &results)
        return results
    }

    /// Feeds one slice of each lane, pairing the lanes' pieces while both have bytes.
    private func feed(_ a: inout Lane, _ x: UnsafeRawBufferPointer, _ b: inout Lane, _ y: UnsafeRawBufferPointer,
                      into results: inout PieceHashResults) {
        var atA = 0, atB = 0
        start(&a, results: &results)
        start(&b, results: &results)
        while atA < x.count && atB < y.count, a.current != nil, b.current != nil {
            let step = min(x.count - atA, y.count - atB, a.current!.remaining, b.current!.remaining)
            PieceHashState.update(&a.current!.state, PieceHashState.slice(x, atA, step), &b.current!.state, PieceHashState.slice(y, atB, step))
            atA += step
            atB += step
            consumed(&a, step, results: &results)
            consumed(&b, step, results: &results)
        }
        drain(&a, x, from: atA, results: &results)
        drain(&b, y, from: atB, results: &results)
    }

    /// The rest of a lane's slice, on its own.
    private func drain(_ lane: inout Lane, _ bytes: UnsafeRawBufferPointer, from: Int, results: inout PieceHashResults) {
        var at = from
        while at < bytes.count, lane.current != nil {
            let step = min(bytes.count - at, lane.current!.remaining)
            lane.current!.state.update(PieceHashState.slice(bytes, at, step))
            at += step
            consumed(&lane, step, results: &results)
        }
    }

    /// Makes sure the lane has a piece to feed.
    private func start(_ lane: inout Lane, results: inout PieceHashResults) {
        while lane.current == nil && lane.nextPiece < lane.endPiece {
            let plan = planning.plan(of: lane.nextPiece)
            lane.current = (lane.nextPiece, PieceHashState(plan), plan.length)
            lane.nextPiece += 1
            if plan.length == 0 { finish(&lane, results: &results) }
        }
    }

    private func consumed(_ lane: inout Lane, _ count: Int, results: inout PieceHashResults) {
        lane.current!.remaining -= count
        if lane.current!.remaining == 0 {
            finish(&lane, results: &results)
            start(&lane, results: &results)
        }
    }

    private func finish(_ lane: inout Lane, results: inout PieceHashResults) {
        guard let current = lane.current else { return }
        lane.current = nil
        let index = current.piece - results.job.firstPiece
        let start = planning.offset(of: current.piece)
        let bytes = start..<start + Int64(current.state.plan.length)
        results.complete[index] = !lane.gaps.contains { $0.overlaps(bytes) }
        results.sha1.withUnsafeMutableBytes { sha1 in
            results.v2.withUnsafeMutableBytes { v2 in
                current.state.finish(sha1: sha1.baseAddress! + index * 20, v2: v2.baseAddress! + index * 32)
            }
        }
    }
}
