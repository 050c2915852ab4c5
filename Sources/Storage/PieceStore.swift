import CTTNet
import Glibc
import Metainfo
import Synchronization

/// A torrent's files under a content root: positioned reads and writes of pieces and blocks.
///
/// The content root is the file itself for a single-file torrent and the torrent's folder for a
/// multi-file one (`contentPath(output:layout:)` gives `OUT/<name>` for a download). Every torrent
/// path is checked with `SafePath` when the store opens. Pad files are never created, read or
/// written: they read as zeros and writes to them are dropped. Thread-safe: reads and writes use
/// `pread`/`pwrite` on shared descriptors, so several pieces can be in flight at once.
public final class PieceStore: @unchecked Sendable {
    public enum Access: Sendable {
        /// Verify: open existing files read-only, create nothing.
        case read
        /// Download: create folders and files, preallocate them, write pieces.
        case readWrite(Preallocation)
    }

    /// How `readWrite` sizes new files.
    public enum Preallocation: Sendable {
        /// `ftruncate` to the final length: a sparse file, instant, no space reserved.
        case sparse
        /// `posix_fallocate`: space reserved now, so a full disk fails at the start (falls back to sparse
        /// where the file system cannot).
        case full
    }

    public let layout: FileLayout
    /// The file (single-file torrent) or folder (multi-file) that holds the data.
    public let contentPath: String
    /// Absolute on-disk path of each file in `layout.files` (pad files included, never touched).
    public let paths: [String]
    /// Where each file's bytes start in its path: 0, or for a file kept in the parts file its stream offset.
    let bases: [Int64]
    /// `OUT/.tt/<hash>.parts`: the bytes of unselected files that share a piece with selected ones.
    public let partsPath: String?
    private let writable: Bool
    let descriptors: DescriptorCache
    /// Large aligned writes bypass the page cache (see `writeSpan`).
    let directWrites: Bool
    /// 1 MiB, 4 KiB-aligned buffers for direct writes, reused (fresh memory costs more than the copy).
    let bounceBuffers = Mutex<[BounceBuffer]>([])
    /// Bytes that went out through `O_DIRECT` (for tests: the path is taken where the file system allows).
    let bytesWrittenDirectly = Atomic<Int>(0)

    /// `OUT/<name>` for a download into `output`, refusing unsafe names.
    public static func contentPath(output: String, layout: FileLayout) throws(StorageError) -> String {
        try SafePath.join(root: output, components: [layout.name])
    }

    /// Opens (read) or creates and preallocates (readWrite) the files. Throws `.unsafePath` for any path
    /// that would escape the content root, `.io` when a folder or file cannot be made.
    /// With a `selection` and a `partsPath`, unselected files are never created: their bytes are read from
    /// and written to the parts file (a sparse image of the piece stream), at their stream offsets.
    public init(layout: FileLayout, contentPath: String, access: Access, maxOpenFiles: Int = 128,
                selection: FileSelection? = nil, partsPath: String? = nil) throws(StorageError) {
        self.layout = layout
        self.contentPath = contentPath
        var paths: [String] = []
        var bases: [Int64] = []
        paths.reserveCapacity(layout.files.count)
        for (index, file) in layout.files.enumerated() {
            if let selection, let partsPath, !selection.isSelected(index, in: layout) {
                paths.append(partsPath)
                bases.append(file.offset)
            } else if layout.isMultiFile {
                paths.append(try SafePath.join(root: contentPath, components: file.path))
                bases.append(0)
            } else {
                paths.append(contentPath)
                bases.append(0)
            }
        }
        self.paths = paths
        self.bases = bases
        self.partsPath = paths.contains { $0 == partsPath } ? partsPath : nil
        switch access {
        case .read: writable = false
        case .readWrite: writable = true
        }
        descriptors = DescriptorCache(limit: max(4, maxOpenFiles), writable: writable)
        directWrites = writable
        if case .readWrite(let preallocation) = access {
            try create(preallocation)
        }
    }

    deinit {
        descriptors.closeAll()
        bounceBuffers.withLock { $0.forEach { $0.memory.deallocate() } }
    }

    /// True for an unselected file whose bytes live in the parts file.
    public func isInPartsFile(_ file: Int) -> Bool { partsPath != nil && paths[file] == partsPath }

    private func create(_ preallocation: Preallocation) throws(StorageError) {
        if let partsPath {
            let fd = open(partsPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw .io(path: partsPath, operation: "open", errno: errno) }
            close(fd)
        }
        for (index, file) in layout.files.enumerated() where !file.isPadding && paths[index] != partsPath {
            let path = paths[index]
            if layout.isMultiFile { try Self.makeParents(of: path, below: contentPath) }
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, file.isExecutable ? 0o755 : 0o644)  // BEP 47 `x`
            guard fd >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
            defer { close(fd) }
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw .io(path: path, operation: "stat", errno: errno) }
            guard Int64(info.st_size) < file.length else { continue }
            if case .full = preallocation {
                let result = posix_fallocate(fd, 0, off_t(file.length))
                if result == 0 { continue }
                if result != EOPNOTSUPP && result != EINVAL { throw .io(path: path, operation: "posix_fallocate", errno: result) }
            }
            guard ftruncate(fd, off_t(file.length)) == 0 else { throw .io(path: path, operation: "ftruncate", errno: errno) }
        }
        try SymlinkMaker.makeLinks(layout: layout, contentPath: contentPath)  // BEP 47 `l`, inside only
    }

    /// `mkdir -p` for the folders between `root` and `path`, refusing to walk through symlinks that leave `root`.
    static func makeParents(of path: String, below root: String) throws(StorageError) {
        var folder = root
        if mkdir(folder, 0o755) != 0 && errno != EEXIST { throw .io(path: folder, operation: "mkdir", errno: errno) }
        let relative = path.dropFirst(root.count + 1).split(separator: "/").dropLast()
        for component in relative {
            folder += "/" + component
            if mkdir(folder, 0o755) != 0 && errno != EEXIST { throw .io(path: folder, operation: "mkdir", errno: errno) }
        }
    }

    // MARK: - Reading

    /// Reads a piece (`layout.length(of:)` bytes) into `buffer`. Returns false when some of its bytes are not
    /// on disk (a missing or short file); the absent part is zero-filled.
    @discardableResult
    public func read(_ piece: PieceIndex, into buffer: UnsafeMutableRawBufferPointer) throws(StorageError) -> Bool {
        let length = layout.length(of: piece)
        precondition(buffer.count >= length)
        return try read(offset: layout.pieces.offset(of: piece), into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<length]))
    }

    /// A piece as a new array, or nil when some of it is not on disk.
    public func readPiece(_ piece: PieceIndex) throws(StorageError) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: layout.length(of: piece))
        let result = bytes.withUnsafeMutableBytes { raw in Result { () throws(StorageError) in try read(piece, into: raw) } }
        return try result.get() ? bytes : nil
    }

    /// Reads `buffer.count` bytes of the piece stream from `offset` (pad files read as zeros). Returns false when
    /// some bytes are not on disk; those are zero-filled.
    public func read(offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(StorageError) -> Bool {
        var complete = true
        var covered = 0
        for span in layout.spans(offset: offset, length: buffer.count) {
            if span.rangeOffset > covered {  // a v2 alignment gap: not data
                (buffer.baseAddress! + covered).initializeMemory(as: UInt8.self, repeating: 0, count: span.rangeOffset - covered)
            }
            covered = span.rangeOffset + span.length
            let target = UnsafeMutableRawBufferPointer(rebasing: buffer[span.rangeOffset..<covered])
            if layout.files[span.file].isPadding {
                target.initializeMemory(as: UInt8.self, repeating: 0)
                continue
            }
            let got = try descriptors.withDescriptor(file: span.file, path: paths[span.file]) { fd throws(StorageError) -> Int in
                guard let fd else { return 0 }
                return try Self.preadFully(fd, target, at: bases[span.file] + span.fileOffset, path: paths[span.file])
            }
            if got < span.length {
                complete = false
                (target.baseAddress! + got).initializeMemory(as: UInt8.self, repeating: 0, count: span.length - got)
            }
        }
        if covered < buffer.count {
            (buffer.baseAddress! + covered).initializeMemory(as: UInt8.self, repeating: 0, count: buffer.count - covered)
        }
        return complete
    }

    /// Like `read(offset:into:)`, but only from the page cache (`preadv2` with `RWF_NOWAIT`): false,
    /// with nothing promised about `buffer`, when any byte would need the disk or on any error — the
    /// caller then reads off its thread. Lets a loop serve cached data without handing it to a worker.
    public func readIfCached(offset: Int64, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        var covered = 0
        for span in layout.spans(offset: offset, length: buffer.count) {
            guard span.rangeOffset == covered else { return false }  // v2 alignment gaps: the full read handles them
            covered = span.rangeOffset + span.length
            let target = UnsafeMutableRawBufferPointer(rebasing: buffer[span.rangeOffset..<covered])
            if layout.files[span.file].isPadding {
                target.initializeMemory(as: UInt8.self, repeating: 0)
                continue
            }
            let got = try? descriptors.withDescriptor(file: span.file, path: paths[span.file]) { fd throws(StorageError) -> Int in
                guard let fd else { return -1 }
                return tt_pread_if_cached(fd, target.baseAddress, UInt(target.count), bases[span.file] + span.fileOffset)
            }
            guard got == span.length else { return false }
        }
        return covered == buffer.count
    }

    /// The files as `PieceHashPipeline` reads them (`tt verify`): pad files, symlinks and v2 gaps read as
    /// zeros, unselected files from the parts file.
    public var pieceSource: PieceSource {
        PieceSource(segments: layout.files.indices.compactMap { index in
            let file = layout.files[index]
            guard !file.isPadding else { return nil }
            return PieceSource.Segment(path: paths[index], fileOffset: bases[index], streamOffset: file.offset, length: file.length)
        })
    }

    /// `pread` until `buffer` is full or the file ends; returns the bytes read.
    static func preadFully(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, at offset: Int64, path: String) throws(StorageError) -> Int {
        do { return try PieceSource.preadFully(fd, buffer, at: offset, path: path) } catch { throw .io(path: error.path, operation: error.operation, errno: error.errno) }
    }

    // MARK: - Writing

    /// Writes a whole piece to its spans (pad spans dropped). Not durable until `flush()`.
    public func writePiece(_ piece: PieceIndex, _ bytes: [UInt8]) throws(StorageError) {
        precondition(bytes.count == layout.length(of: piece), "piece \(piece) is \(layout.length(of: piece)) bytes, got \(bytes.count)")
        try bytes.withUnsafeBytes { raw in Result { () throws(StorageError) in try write(offset: layout.pieces.offset(of: piece), raw) } }.get()
    }

    /// Writes a whole piece from its buffer (page-aligned, so large spans go direct without a copy).
    public func writePiece(_ piece: PieceIndex, _ buffer: PieceBuffer) throws(StorageError) {
        precondition(buffer.count == layout.length(of: piece), "piece \(piece) is \(layout.length(of: piece)) bytes, got \(buffer.count)")
        try write(offset: layout.pieces.offset(of: piece), buffer.readOnly)
    }

    /// Writes bytes of the piece stream at `offset` (e.g. one 16 KiB block: `offset(of: piece) + begin`).
    public func write(offset: Int64, _ bytes: UnsafeRawBufferPointer) throws(StorageError) {
        precondition(writable, "PieceStore opened read-only")
        for span in layout.spans(offset: offset, length: bytes.count) where !layout.files[span.file].isPadding {
            let source = UnsafeRawBufferPointer(rebasing: bytes[span.rangeOffset..<span.rangeOffset + span.length])
            try descriptors.withDescriptor(file: span.file, path: paths[span.file], dirty: true) { fd throws(StorageError) in
                guard let fd else { throw .missing(path: paths[span.file]) }
                try writeSpan(fd: fd, file: span.file, fileOffset: bases[span.file] + span.fileOffset, source)
            }
        }
    }

    /// `fsync`s every file written since the last flush; after it returns, those writes survive a crash.
    public func flush() throws(StorageError) {
        try descriptors.syncDirty(paths: paths)
    }

    // MARK: - Sizes

    /// Size on disk of each file in `layout.files`; nil when absent or not a regular file (pad files: their length).
    public func actualSizes() -> [Int64?] {
        layout.files.indices.map { index -> Int64? in
            if layout.files[index].isPadding { return layout.files[index].length }
            if isInPartsFile(index) { return nil }  // unselected: not on disk by design
            var info = stat()
            guard stat(paths[index], &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
            return Int64(info.st_size)
        }
    }
}
