import CTTNet
import Glibc

// Writing pieces to disk. A downloaded piece is hashed from memory before it is written and is not read
// back while downloading, so the page cache gains nothing from holding it; on this project's 2-core VM,
// filling fresh page-cache pages cost 1.5–4 ms per MiB of system time (the host hands back pages it had
// reclaimed, more so for the large folios a 1 MiB write asks for) — most of a download's CPU. Large
// aligned spans therefore go straight to the disk with `O_DIRECT` (1 GiB: 0.1 s of system time instead
// of 1.5–3 s), the rest through the page cache in writes of at most 64 KiB.
extension PieceStore {
    /// `O_DIRECT` needs the file offset, length and memory aligned to the device's block size; 4 KiB
    /// covers every block size Linux file systems use.
    static let directAlignment = 4096
    /// Spans shorter than this are written through the page cache: a direct write waits for the device,
    /// and many small synchronous writes (16 KiB pieces) would be slower than one copy each.
    static let directMinimum = 256 * 1024
    static let bounceSize = 1 << 20
    /// Largest buffered `pwrite`: the kernel sizes new page-cache folios by the write's length, and on
    /// this VM 512 MiB written in 1 MiB writes cost 0.9–1.8 s of system time, in 64 KiB writes 0.13–0.2 s.
    static let bufferedChunk = 64 * 1024

    /// Writes one span of one file: the 4 KiB-aligned middle directly when possible, the edges (and
    /// everything, where direct I/O is off or refused) through the page cache.
    func writeSpan(fd: Int32, file: Int, fileOffset: Int64, _ source: UnsafeRawBufferPointer) throws(StorageError) {
        var directStart = 0, directEnd = 0
        if directWrites, source.count >= Self.directMinimum,
           let direct = descriptors.directDescriptor(file: file, path: paths[file]) {
            let alignment = Int64(Self.directAlignment)
            directStart = Int((alignment - fileOffset % alignment) % alignment)
            let middle = (source.count - directStart) / Self.directAlignment * Self.directAlignment
            let written = try writeDirect(direct, file: file, fileOffset: fileOffset + Int64(directStart),
                                          UnsafeRawBufferPointer(rebasing: source[directStart..<directStart + middle]))
            directEnd = directStart + written
        }
        if directEnd > directStart {
            try writeBuffered(fd, file: file, fileOffset: fileOffset, UnsafeRawBufferPointer(rebasing: source[..<directStart]))
            try writeBuffered(fd, file: file, fileOffset: fileOffset + Int64(directEnd),
                              UnsafeRawBufferPointer(rebasing: source[directEnd...]))
        } else {
            try writeBuffered(fd, file: file, fileOffset: fileOffset, source)
        }
    }

    private func writeBuffered(_ fd: Int32, file: Int, fileOffset: Int64, _ source: UnsafeRawBufferPointer) throws(StorageError) {
        var done = 0
        while done < source.count {
            let written = pwrite(fd, source.baseAddress! + done, min(source.count - done, Self.bufferedChunk),
                                 off_t(fileOffset + Int64(done)))
            if written < 0 {
                if errno == EINTR { continue }
                throw .io(path: paths[file], operation: "write", errno: errno)
            }
            done += written
        }
    }

    /// Writes an aligned span through `O_DIRECT`: from where it lies when its memory is aligned too (a
    /// `PieceBuffer`), else copied through an aligned bounce buffer. Returns how many bytes from the
    /// start were written; the caller writes the rest buffered (after EINVAL, when the device takes no
    /// such alignment, or a short write, whose cause the buffered write reports).
    private func writeDirect(_ fd: Int32, file: Int, fileOffset: Int64, _ source: UnsafeRawBufferPointer) throws(StorageError) -> Int {
        let aligned = Int(bitPattern: source.baseAddress) % Self.directAlignment == 0
        let bounce = aligned ? nil : bounceBuffers.withLock { $0.popLast() }
            ?? BounceBuffer(UnsafeMutableRawPointer.allocate(byteCount: Self.bounceSize, alignment: Self.directAlignment))
        defer { if let bounce { bounceBuffers.withLock { $0.append(bounce) } } }
        var done = 0
        while done < source.count {
            let length = aligned ? source.count - done : min(source.count - done, Self.bounceSize)
            var from = UnsafeRawPointer(source.baseAddress! + done)
            if let bounce {
                bounce.memory.copyMemory(from: from, byteCount: length)
                from = UnsafeRawPointer(bounce.memory)
            }
            let written = pwrite(fd, from, length, off_t(fileOffset + Int64(done)))
            if written < 0 {
                if errno == EINTR { continue }
                if errno == EINVAL { descriptors.disableDirect(file: file); break }
                throw .io(path: paths[file], operation: "write", errno: errno)
            }
            done += written
            if written < length { done -= done % Self.directAlignment; break }
        }
        bytesWrittenDirectly.add(done, ordering: .relaxed)
        return done
    }
}

/// An aligned buffer for direct writes. Sendable because one writer holds it at a time: it is taken
/// out of the store's pool under its lock and put back when the write is done.
struct BounceBuffer: @unchecked Sendable {
    let memory: UnsafeMutableRawPointer
    init(_ memory: UnsafeMutableRawPointer) { self.memory = memory }
}
