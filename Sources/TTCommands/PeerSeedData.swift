import Dispatch
import Foundation
import Hashing
import Metainfo
import PeerWire

/// Reads a torrent's bytes from disk for `tt seed`: single-file (DATA is the file) or
/// multi-file (DATA is the torrent's root folder). Pad files read as zeros.
///
/// A small private reader until the Storage module can take its place.
final class PeerSeedData: @unchecked Sendable {
    struct Span {
        var offset: Int64
        var length: Int64
        var fd: Int32   // -1 for pad files
    }

    let torrent: Torrent
    private var spans: [Span] = []

    /// Opens every file; a missing or short file is an error naming it (exit 66).
    init(torrent: Torrent, dataPath: String, displayPath: String) throws(TTError) {
        self.torrent = torrent
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dataPath, isDirectory: &isDirectory) else {
            throw TTError(.noInput, kind: "no_input", "\(displayPath): no such file or folder")
        }
        func diskPath(_ file: TorrentFile) -> (String, String) {
            if !torrent.isMultiFile {
                if isDirectory.boolValue { return ((dataPath as NSString).appendingPathComponent(torrent.name), "\(displayPath)/\(torrent.name)") }
                return (dataPath, displayPath)
            }
            let relative = file.path.joined(separator: "/")
            return ((dataPath as NSString).appendingPathComponent(relative), "\(displayPath)/\(relative)")
        }
        if torrent.isMultiFile && !isDirectory.boolValue {
            throw TTError(.noInput, kind: "no_input", "\(displayPath): a multi-file torrent needs its root folder, not a file")
        }
        for file in torrent.files {
            if file.isPadding {
                spans.append(Span(offset: file.offset, length: file.length, fd: -1))
                continue
            }
            guard !torrent.isMultiFile || file.path.allSatisfy({ UnsafePathReason.check($0) == nil }) else {
                throw TTError(.dataError, kind: "unsafe_path", "refusing unsafe path in torrent: \(file.displayPath)")
            }
            let (path, shown) = diskPath(file)
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw TTError(.noInput, kind: "no_input", "\(shown): \(String(cString: strerror(errno)))")
            }
            var info = stat()
            fstat(fd, &info)
            guard Int64(info.st_size) >= file.length else {
                close(fd)
                throw TTError(.noInput, kind: "no_input", "\(shown): \(info.st_size) bytes, the torrent says \(file.length)")
            }
            spans.append(Span(offset: file.offset, length: file.length, fd: fd))
        }
        spans.removeAll { $0.length == 0 }
    }

    deinit { for span in spans where span.fd >= 0 { close(span.fd) } }

    struct ReadError: Error, CustomStringConvertible { var description: String }

    /// Reads `length` bytes at absolute `offset` of the torrent's byte stream.
    func read(offset: Int64, length: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: length)
        try out.withUnsafeMutableBytes { raw in
            var position = offset
            var written = 0
            // First span that ends after `offset`.
            var low = 0, high = spans.count
            while low < high {
                let mid = (low + high) / 2
                if spans[mid].offset + spans[mid].length <= offset { low = mid + 1 } else { high = mid }
            }
            var index = low
            while written < length {
                guard index < spans.count else { throw ReadError(description: "read past the end of the data") }
                let span = spans[index]
                let within = position - span.offset
                let count = Int(min(Int64(length - written), span.length - within))
                if span.fd >= 0 {
                    var done = 0
                    while done < count {
                        let got = pread(span.fd, raw.baseAddress! + written + done, count - done, off_t(within) + off_t(done))
                        if got < 0 && errno == EINTR { continue }
                        guard got > 0 else { throw ReadError(description: got == 0 ? "file shrank" : String(cString: strerror(errno))) }
                        done += got
                    }
                }
                written += count
                position += Int64(count)
                index += 1
            }
        }
        return out
    }

    func readBlock(_ piece: PieceIndex, _ begin: Int, _ length: Int) throws -> [UInt8] {
        try read(offset: torrent.layout.offset(of: piece) + Int64(begin), length: length)
    }

    /// Hashes every piece on all cores; returns which pieces match the torrent.
    func check(progress: (Int, Int) -> Void) -> Bitfield {
        let layout = torrent.layout
        var have = Bitfield(pieceCount: layout.pieceCount)
        let batch = max(1, min(64, (64 << 20) / layout.pieceLength))
        var first = 0
        while first < layout.pieceCount {
            let count = min(batch, layout.pieceCount - first)
            let results = CheckResults(count: count)
            let base = first
            let torrent = self.torrent
            DispatchQueue.concurrentPerform(iterations: count) { offset in
                guard let piece = layout.index(base + offset), let expected = torrent.pieceHash(piece),
                      let bytes = try? self.read(offset: layout.offset(of: piece), length: layout.length(of: piece)) else { return }
                results.set(offset, SHA1.hash(bytes).elementsEqual(expected))
            }
            for offset in 0..<count where results.get(offset) { have.set(base + offset) }
            first += count
            progress(first, layout.pieceCount)
        }
        return have
    }
}

/// One flag per piece of a batch, written by concurrent hashing (each index by one thread).
private final class CheckResults: @unchecked Sendable {
    private let flags: UnsafeMutableBufferPointer<Bool>
    init(count: Int) {
        flags = .allocate(capacity: count)
        flags.initialize(repeating: false)
    }
    deinit { flags.deallocate() }
    func set(_ index: Int, _ value: Bool) { flags[index] = value }
    func get(_ index: Int) -> Bool { flags[index] }
}
