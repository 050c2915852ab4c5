import Bencode
/// One file of a torrent, with its place in the concatenated v1 byte stream.
public struct TorrentFile: Hashable, Sendable {
    /// Path components below the torrent's root folder (the name alone for a single-file torrent).
    /// Components that are not UTF-8 are repaired as libtorrent does: each invalid byte becomes `_`
    /// (`rawPath` keeps the bytes).
    public var path: [String]
    public var length: Int64
    /// Offset of the file's first byte in the torrent's byte stream.
    public var offset: Int64
    /// A BEP 47 pad file (`attr` `p`, or the legacy `_____padding_file_` name): zeros that align the
    /// next file to a piece boundary; never written to disk.
    public var isPadding: Bool
    /// BEP 47 attributes as given (`p` pad, `x` executable, `h` hidden, `l` symlink).
    public var attributes: String
    /// BEP 52: SHA-256 merkle root of the file's 16 KiB blocks, when the torrent is v2.
    public var piecesRoot: [UInt8]?
    /// BEP 47 `symlink path` of a symlink (`attr` `l`), below the torrent's root folder.
    public var symlinkTarget: [String]?
    /// The path's bytes as given, only when some component is not UTF-8 (for `\xNN` display).
    public var rawPath: [[UInt8]]?

    public init(path: [String], length: Int64, offset: Int64, isPadding: Bool = false, attributes: String = "",
                piecesRoot: [UInt8]? = nil, symlinkTarget: [String]? = nil, rawPath: [[UInt8]]? = nil) {
        self.path = path
        self.length = length
        self.offset = offset
        self.isPadding = isPadding
        self.attributes = attributes
        self.piecesRoot = piecesRoot
        self.symlinkTarget = symlinkTarget
        self.rawPath = rawPath
    }

    public var displayPath: String { path.joined(separator: "/") }
    public var isSymlink: Bool { symlinkTarget != nil }
    public var isExecutable: Bool { attributes.contains("x") }
    public var isHidden: Bool { attributes.contains("h") }

    /// The path for a terminal: control characters and non-UTF-8 bytes escaped.
    public var terminalPath: String {
        if let rawPath { return rawPath.map { TerminalText.escape(bytes: $0) }.joined(separator: "/") }
        return TerminalText.escape(displayPath)
    }
}

/// Why a path from a torrent cannot be written safely below the output folder.
public enum UnsafePathReason: String, Sendable {
    case empty = "an empty path component"
    case dot = "a '.' component"
    case dotDot = "a '..' component"
    case separator = "a '/' inside a component"
    case nul = "a NUL byte"
    case absolute = "an absolute path"
    case backslash = "a '\\' inside a component"
    case driveLetter = "a Windows drive letter"

    /// Checks one component; a torrent's path is safe when every component is.
    public static func check(_ component: String) -> UnsafePathReason? {
        var component = component
        return component.withUTF8 { check(bytes: $0) }
    }

    /// The same check on raw bytes (runs for every component of every file of large torrents).
    public static func check(bytes: UnsafeBufferPointer<UInt8>) -> UnsafePathReason? {
        if bytes.isEmpty { return .empty }
        if bytes.count <= 2 && bytes.allSatisfy({ $0 == UInt8(ascii: ".") }) { return bytes.count == 1 ? .dot : .dotDot }
        if bytes.first == UInt8(ascii: "/") { return .absolute }
        var nul = false, slash = false, backslash = false
        for byte in bytes {
            if byte == 0 { nul = true } else if byte == UInt8(ascii: "/") { slash = true } else if byte == UInt8(ascii: "\\") { backslash = true }
        }
        if nul { return .nul }
        if slash { return .separator }
        if backslash { return .backslash }
        // `C:` or `C:x` means a drive (or an NTFS stream) to Windows clients.
        if bytes.count >= 2, bytes[1] == UInt8(ascii: ":"),
           (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(bytes[0] & 0xDF) { return .driveLetter }
        return nil
    }
}
