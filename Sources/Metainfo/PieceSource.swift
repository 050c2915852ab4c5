import Glibc

/// A torrent's piece stream as it lies on disk: stretches of files, with zeros between them (BEP 47
/// pad files, v2 alignment gaps, symlinks). The one reader behind `tt create` and `tt verify`.
public struct PieceSource: Sendable {
    /// A stretch of the stream held by a file.
    public struct Segment: Sendable, Equatable {
        public var path: String
        /// Where the stretch starts inside the file (not 0 for a file kept inside a parts file).
        public var fileOffset: Int64
        public var streamOffset: Int64
        public var length: Int64

        public init(path: String, fileOffset: Int64 = 0, streamOffset: Int64, length: Int64) {
            self.path = path
            self.fileOffset = fileOffset
            self.streamOffset = streamOffset
            self.length = length
        }

        var streamEnd: Int64 { streamOffset + length }
    }

    /// How bytes get from the page cache to the hasher.
    public enum ReadMethod: String, Sendable {
        /// `pread` into the worker's reused buffer (the default: as fast, and memory stays bounded).
        case read
        /// `mmap` each range (`MAP_POPULATE`) and hash from the mapping; ranges that cross files are read.
        case mmap
    }

    /// Sorted by stream offset, without overlaps or empty stretches.
    public let segments: [Segment]

    public init(segments: [Segment]) {
        let kept = segments.filter { $0.length > 0 }.sorted { $0.streamOffset < $1.streamOffset }
        precondition(zip(kept, kept.dropFirst()).allSatisfy { $0.streamEnd <= $1.streamOffset }, "overlapping segments")
        self.segments = kept
    }

    /// Index of the first segment that ends after `offset`.
    func firstSegment(endingAfter offset: Int64) -> Int {
        var low = 0, high = segments.count
        while low < high {
            let middle = (low + high) / 2
            if segments[middle].streamEnd <= offset { low = middle + 1 } else { high = middle }
        }
        return low
    }
}

/// Bytes a read needed that the disk does not have: they read as zeros.
public struct Shortfall: Sendable, Equatable {
    public var path: String
    /// True when the file (or a folder on its path) does not exist; false when it is shorter than the stream says.
    public var absent: Bool

    public init(path: String, absent: Bool) {
        self.path = path
        self.absent = absent
    }
}

/// A system call that failed on a file of the stream.
public struct PieceReadError: Error, Sendable, Equatable {
    public var path: String
    public var operation: String
    public var errno: Int32

    public init(path: String, operation: String, errno: Int32) {
        self.path = path
        self.operation = operation
        self.errno = errno
    }

    public var reason: String { String(cString: strerror(errno)) }
}

/// What a read found missing: the first file that lacked bytes, and the stream bytes from the first to the
/// last one missing (zero-filled).
struct ReadShortfall: Equatable {
    var shortfall: Shortfall
    var range: Range<Int64>
}

/// One thread's reads of a `PieceSource`. Keeps the last few files open, so a worker reading a big
/// file opens it once; not shared between threads (each worker has its own).
final class PieceSourceReader {
    let source: PieceSource
    /// Open descriptors by segment index, most recently used last.
    private var open: [(segment: Int, fd: Int32)] = []
    private static let openLimit = 4

    init(_ source: PieceSource) { self.source = source }

    deinit { for entry in open { close(entry.fd) } }

    /// Fills `buffer` with the stream from `offset`: file bytes, zeros between files, and zeros for bytes a
    /// file lacks (reported).
    func read(offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(PieceReadError) -> ReadShortfall? {
        guard let base = buffer.baseAddress else { return nil }
        let end = offset + Int64(buffer.count)
        var shortfall: ReadShortfall?
        var index = source.firstSegment(endingAfter: offset)
        var position = offset
        while position < end {
            guard index < source.segments.count, source.segments[index].streamOffset < end else {
                (base + Int(position - offset)).initializeMemory(as: UInt8.self, repeating: 0, count: Int(end - position))
                break
            }
            let segment = source.segments[index]
            if segment.streamOffset > position {  // between files
                (base + Int(position - offset)).initializeMemory(as: UInt8.self, repeating: 0, count: Int(segment.streamOffset - position))
                position = segment.streamOffset
            }
            let wanted = Int(min(segment.streamEnd, end) - position)
            let target = UnsafeMutableRawBufferPointer(start: base + Int(position - offset), count: wanted)
            let fd = try descriptor(index)
            var got = 0
            if let fd { got = try PieceSource.preadFully(fd, target, at: segment.fileOffset + (position - segment.streamOffset), path: segment.path) }
            if got < wanted {
                (target.baseAddress! + got).initializeMemory(as: UInt8.self, repeating: 0, count: wanted - got)
                let missing = position + Int64(got)..<position + Int64(wanted)
                if let first = shortfall {
                    shortfall!.range = first.range.lowerBound..<missing.upperBound
                } else {
                    shortfall = ReadShortfall(shortfall: Shortfall(path: segment.path, absent: fd == nil), range: missing)
                }
            }
            position += Int64(wanted)
            index += 1
        }
        return shortfall
    }

    /// Runs `body` on `count` bytes of the stream from `offset`: mapped straight from the page cache when
    /// `method` is `.mmap` and the range lies inside one file that is long enough, else read into `buffer`.
    func withBytes<R>(offset: Int64, count: Int, buffer: UnsafeMutableRawBufferPointer, method: PieceSource.ReadMethod,
                      _ body: (UnsafeRawBufferPointer, ReadShortfall?) throws(PieceReadError) -> R) throws(PieceReadError) -> R {
        if method == .mmap, count > 0 {
            let index = source.firstSegment(endingAfter: offset)
            if index < source.segments.count, source.segments[index].streamOffset <= offset,
               source.segments[index].streamEnd >= offset + Int64(count), let fd = try descriptor(index) {
                let segment = source.segments[index]
                let fileOffset = segment.fileOffset + (offset - segment.streamOffset)
                var info = stat()
                if fstat(fd, &info) == 0, Int64(info.st_size) >= fileOffset + Int64(count) {
                    let page = Int64(sysconf(Int32(_SC_PAGESIZE)))
                    let aligned = fileOffset / page * page
                    let lead = Int(fileOffset - aligned)
                    guard let mapped = mmap(nil, lead + count, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, off_t(aligned)),
                          mapped != MAP_FAILED else {
                        throw PieceReadError(path: segment.path, operation: "mmap", errno: errno)
                    }
                    defer { munmap(mapped, lead + count) }
                    return try body(UnsafeRawBufferPointer(start: mapped + lead, count: count), nil)
                }
            }
        }
        let target = UnsafeMutableRawBufferPointer(rebasing: buffer[..<count])
        let shortfall = try read(offset: offset, into: target)
        return try body(UnsafeRawBufferPointer(target), shortfall)
    }

    /// The segment's file, opened on first use; nil when it does not exist.
    private func descriptor(_ segment: Int) throws(PieceReadError) -> Int32? {
        if let position = open.firstIndex(where: { $0.segment == segment }) {
            let entry = open.remove(at: position)
            open.append(entry)
            return entry.fd
        }
        let path = source.segments[segment].path
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw PieceReadError(path: path, operation: "open", errno: errno)
        }
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        if open.count == Self.openLimit { close(open.removeFirst().fd) }
        open.append((segment, fd))
        return fd
    }
}

extension PieceSource {
    /// `pread` until `buffer` is full or the file ends; returns the bytes read.
    public static func preadFully(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, at offset: Int64, path: String) throws(PieceReadError) -> Int {
        var done = 0
        while done < buffer.count {
            let got = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + Int64(done)))
            if got < 0 {
                if errno == EINTR { continue }
                throw PieceReadError(path: path, operation: "read", errno: errno)
            }
            if got == 0 { break }
            done += got
        }
        return done
    }
}
