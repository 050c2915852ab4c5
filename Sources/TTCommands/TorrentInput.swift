import Bencode
import FoundationEssentials
import Glibc
import Metainfo

/// What a user may pass where a torrent is expected (tt(1); README "Recipes").
public enum TorrentInput {
    case torrent(Torrent, source: String)
    case magnet(MagnetLink)
    case infoHash(InfoHashes)

    public var infoHashes: InfoHashes {
        switch self {
        case .torrent(let torrent, _): return torrent.infoHashes
        case .magnet(let magnet): return magnet.infoHashes
        case .infoHash(let hashes): return hashes
        }
    }

    public var trackers: [String] {
        switch self {
        case .torrent(let torrent, _): return torrent.trackers
        case .magnet(let magnet): return magnet.trackers
        case .infoHash: return []
        }
    }

    public var torrent: Torrent? {
        if case .torrent(let torrent, _) = self { return torrent }
        return nil
    }

    /// Reads a `.torrent` path or `-`, a `magnet:?` link, or (when allowed) a bare info hash.
    public static func load(_ argument: String, _ environment: CommandEnvironment, allowHashOnly: Bool) throws(TTError) -> TorrentInput {
        if argument.hasPrefix("magnet:") {
            do { return .magnet(try MagnetLink(parsing: argument)) } catch { throw TTError(metainfo: error, source: "magnet link") }
        }
        if allowHashOnly, argument.count == 40 || argument.count == 64, let hashes = InfoHashes(hex: argument),
           !FileManager.default.fileExists(atPath: environment.path(argument)) {
            return .infoHash(hashes)
        }
        return .torrent(try loadTorrent(argument, environment), source: argument)
    }

    /// Reads and parses a `.torrent` file (or stdin for `-`). Torrents a client would have to guess
    /// about are refused (exit 65) unless `lenient` (only `tt info --lenient` asks for that).
    public static func loadTorrent(_ argument: String, _ environment: CommandEnvironment, lenient: Bool = false) throws(TTError) -> Torrent {
        try withInput(argument, environment) { bytes throws(TTError) in
            do throws(MetainfoError) {
                return try Torrent(buffer: bytes, lenient: lenient)
            } catch {
                throw TTError(metainfo: error, source: argument == "-" ? "stdin" : argument)
            }
        }
    }

    /// Runs `body` over the whole input without copying it when it is a regular file: the file is
    /// mapped read-only (page-cache pages, mapped 64 KiB per fault), where reading it into fresh
    /// heap memory costs a page fault per 4 KiB (~3 ms per MiB on this kind of machine). Anything
    /// else (stdin, pipes, empty or unmappable files, every error) goes through `readInput`.
    public static func withInput<R>(_ argument: String, _ environment: CommandEnvironment, limit: Int = 1 << 30,
                                    _ body: (UnsafeBufferPointer<UInt8>) throws(TTError) -> R) throws(TTError) -> R {
        if argument != "-" {
            let fd = open(environment.path(argument), O_RDONLY | O_CLOEXEC)
            if fd >= 0 {
                defer { close(fd) }
                var info = stat()
                if fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_size > 0, Int(info.st_size) <= limit {
                    let size = Int(info.st_size)
                    if let base = mmap(nil, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0), base != MAP_FAILED {
                        defer { munmap(base, size) }
                        return try body(UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: size))
                    }
                }
            }
        }
        let bytes = try readInput(argument, environment, limit: limit)
        var result: Result<R, TTError>!
        bytes.withUnsafeBufferPointer { buffer in
            do throws(TTError) { result = .success(try body(buffer)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    /// Reads a whole file or stdin, mapping failures to exit 66.
    ///
    /// One `fstat` and reads straight into a buffer of the file's size: a 10 MB torrent is a few
    /// large reads, not thousands of 4 KiB ones into a growing buffer.
    public static func readInput(_ argument: String, _ environment: CommandEnvironment, limit: Int = 1 << 30) throws(TTError) -> [UInt8] {
        if argument == "-" { return environment.readStdin() }
        let path = environment.path(argument)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR { throw TTError(.noInput, kind: "no_input", "\(argument): no such file") }
            throw TTError(.noInput, kind: "no_input", "\(argument): cannot be read (\(String(cString: strerror(code))))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw TTError(.noInput, kind: "no_input", "\(argument): cannot be read (\(String(cString: strerror(errno))))")
        }
        if (info.st_mode & S_IFMT) == S_IFDIR { throw TTError(.noInput, kind: "no_input", "\(argument): is a directory, expected a file") }
        let regular = (info.st_mode & S_IFMT) == S_IFREG
        guard !regular || Int(info.st_size) <= limit else {
            throw TTError(.dataError, kind: "too_large", "\(argument): larger than \(limit) bytes")
        }
        // Regular files: exactly their size (plus one byte to notice growth); pipes and devices grow.
        var bytes = [UInt8](repeating: 0, count: regular ? Int(info.st_size) + 1 : 1 << 16)
        var filled = 0
        while true {
            if filled == bytes.count {
                guard filled <= limit else { throw TTError(.dataError, kind: "too_large", "\(argument): larger than \(limit) bytes") }
                bytes.append(contentsOf: repeatElement(0, count: bytes.count))
            }
            let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if count > 0 { filled += count; continue }
            if count == 0 { break }
            if errno == EINTR { continue }
            throw TTError(.noInput, kind: "no_input", "\(argument): cannot be read (\(String(cString: strerror(errno))))")
        }
        guard filled <= limit else { throw TTError(.dataError, kind: "too_large", "\(argument): larger than \(limit) bytes") }
        bytes.removeSubrange(filled...)
        return bytes
    }
}

extension TTError {
    public init(metainfo error: MetainfoError, source: String) {
        switch error {
        case .bencode(let inner):
            self.init(.dataError, kind: "bad_bencode", "\(source): not valid bencode: \(inner)",
                      details: [("offset", String(inner.offset))])
        case .invalid(let why):
            self.init(.dataError, kind: "bad_torrent", "\(source): invalid torrent: \(why)")
        case .rejected(let problem):
            self.init(.dataError, kind: problem.rule.kind, "\(source): invalid torrent: \(problem.message)",
                      details: [("rule", problem.rule.kind)])
        case .badMagnet(let why):
            self.init(.dataError, kind: "bad_magnet", "bad magnet link: \(why)")
        }
    }
}
