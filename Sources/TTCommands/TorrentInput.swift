import Bencode
import Foundation
import Metainfo

/// What a user may pass where a torrent is expected (CONVENTIONS "Accepting the previous stage's output").
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
        let bytes = try readInput(argument, environment)
        do {
            return try Torrent(bytes: bytes, lenient: lenient)
        } catch {
            throw TTError(metainfo: error, source: argument == "-" ? "stdin" : argument)
        }
    }

    /// Reads a whole file or stdin, mapping failures to exit 66.
    public static func readInput(_ argument: String, _ environment: CommandEnvironment, limit: Int = 1 << 30) throws(TTError) -> [UInt8] {
        if argument == "-" { return environment.readStdin() }
        let path = environment.path(argument)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw TTError(.noInput, kind: "no_input", "\(argument): no such file")
        }
        guard !isDirectory.boolValue else { throw TTError(.noInput, kind: "no_input", "\(argument): is a directory, expected a file") }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw TTError(.noInput, kind: "no_input", "\(argument): cannot be read (permission denied?)")
        }
        defer { try? handle.close() }
        do {
            let data = try handle.read(upToCount: limit + 1) ?? Data()
            guard data.count <= limit else {
                throw TTError(.dataError, kind: "too_large", "\(argument): larger than \(limit) bytes")
            }
            return [UInt8](data)
        } catch let error as TTError {
            throw error
        } catch {
            throw TTError(.noInput, kind: "no_input", "\(argument): \(error.localizedDescription)")
        }
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
