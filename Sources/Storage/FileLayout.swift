import Metainfo

/// One file of a torrent as storage sees it: where it sits in the piece stream.
public struct StorageFile: Hashable, Sendable {
    /// Index into `Torrent.files`.
    public let torrentIndex: Int
    /// Path components below the content root (for a single-file torrent: the name alone).
    public let path: [String]
    public let length: Int64
    /// Offset of the first byte in the piece stream. For v2-only torrents every file starts on a
    /// piece boundary (BEP 52), so this differs from `TorrentFile.offset`.
    public let offset: Int64
    /// A BEP 47 pad file: zeros in the stream, never on disk.
    public let isPadding: Bool
    /// BEP 52 merkle root, when the torrent has one for this file.
    public let piecesRoot: [UInt8]?
    /// BEP 47 `x`: created with execute permission.
    public let isExecutable: Bool
    /// BEP 47 `l`: the link's target below the content root (the entry itself holds no data).
    public let symlinkTarget: [String]?

    public init(torrentIndex: Int, path: [String], length: Int64, offset: Int64, isPadding: Bool, piecesRoot: [UInt8]?,
                isExecutable: Bool = false, symlinkTarget: [String]? = nil) {
        self.torrentIndex = torrentIndex
        self.path = path
        self.length = length
        self.offset = offset
        self.isPadding = isPadding
        self.piecesRoot = piecesRoot
        self.isExecutable = isExecutable
        self.symlinkTarget = symlinkTarget
    }

    public var end: Int64 { offset + length }
    public var displayPath: String { path.joined(separator: "/") }
}

/// A piece's bytes inside one file.
public struct FileSpan: Hashable, Sendable {
    /// Index into `FileLayout.files`.
    public let file: Int
    /// Where the span starts inside the file.
    public let fileOffset: Int64
    /// Where the span starts inside the requested range (the piece).
    public let rangeOffset: Int
    public let length: Int

    public init(file: Int, fileOffset: Int64, rangeOffset: Int, length: Int) {
        self.file = file
        self.fileOffset = fileOffset
        self.rangeOffset = rangeOffset
        self.length = length
    }
}

/// The map between pieces and files: which file spans make up a piece, which pieces touch a file.
///
/// v1 and hybrid torrents use the v1 stream (files back to back, pad files included). v2-only
/// torrents use BEP 52's aligned stream: each file starts at a piece boundary and a file's last
/// piece is short (its hash covers only the file's bytes), so piece numbers match the wire.
public struct FileLayout: Sendable {
    public let name: String
    public let isMultiFile: Bool
    public let version: Torrent.Version
    public let files: [StorageFile]
    /// Piece numbering and lengths of the piece stream.
    public let pieces: PieceLayout
    /// Starts of files with data, ascending, for binary search (indices into `files`).
    private let dataFiles: [Int]

    public var pieceLength: Int { pieces.pieceLength }
    public var pieceCount: Int { pieces.pieceCount }
    /// Bytes of real file data (pad files and v2 alignment gaps excluded).
    public var dataLength: Int64 { files.reduce(0) { $0 + ($1.isPadding ? 0 : $1.length) } }

    /// Paths are the torrent's, with control characters written as `_` (tt-download(1) "NAMES AND
    /// ATTRIBUTES"). BEP 47 symlinks hold no data: they are kept like pad files (never read or
    /// written through) and made as links only by `SymlinkMaker`, when their target stays inside.
    public init(torrent: Torrent) throws(StorageError) {
        let name = Torrent.diskComponent(torrent.name)
        func diskPath(_ file: TorrentFile) -> [String] { file.path.map(Torrent.diskComponent) }
        var files: [StorageFile] = []
        files.reserveCapacity(torrent.files.count)
        if torrent.version == .v2 {
            guard torrent.pieceLength >= 16384, torrent.pieceLength & (torrent.pieceLength - 1) == 0 else {
                throw .badTorrent("v2 piece length \(torrent.pieceLength) is not a power of two of at least 16 KiB")
            }
            let pieceLength = Int64(torrent.pieceLength)
            var offset: Int64 = 0
            for (index, file) in torrent.files.enumerated() {
                files.append(StorageFile(torrentIndex: index, path: diskPath(file), length: file.length, offset: offset,
                                         isPadding: file.isSymlink, piecesRoot: file.piecesRoot, isExecutable: file.isExecutable,
                                         symlinkTarget: file.symlinkTarget?.map(Torrent.diskComponent)))
                offset += (file.length + pieceLength - 1) / pieceLength * pieceLength
            }
            let total = files.map(\.end).max() ?? 0
            self.init(name: name, isMultiFile: torrent.isMultiFile, version: .v2, files: files,
                      pieces: PieceLayout(pieceLength: torrent.pieceLength, totalLength: total))
        } else {
            for (index, file) in torrent.files.enumerated() {
                files.append(StorageFile(torrentIndex: index, path: diskPath(file), length: file.length, offset: file.offset,
                                         isPadding: file.isPadding || file.isSymlink, piecesRoot: file.piecesRoot,
                                         isExecutable: file.isExecutable, symlinkTarget: file.symlinkTarget?.map(Torrent.diskComponent)))
            }
            self.init(name: name, isMultiFile: torrent.isMultiFile, version: torrent.version, files: files,
                      pieces: torrent.layout)
        }
    }

    /// A layout from parts (tests, or a Swarm that builds one before the metadata is complete).
    public init(name: String, isMultiFile: Bool, version: Torrent.Version, files: [StorageFile], pieces: PieceLayout) {
        self.name = name
        self.isMultiFile = isMultiFile
        self.version = version
        self.files = files
        self.pieces = pieces
        self.dataFiles = files.indices.filter { files[$0].length > 0 }
    }

    // MARK: - Pieces → spans

    /// Bytes a piece hashes: the layout's length, or for v2-only the file bytes in it (a file's last piece is short).
    public func length(of piece: PieceIndex) -> Int {
        guard version == .v2 else { return pieces.length(of: piece) }
        let start = pieces.offset(of: piece)
        guard let file = fileContaining(start) else { return 0 }
        return Int(min(Int64(pieceLength), files[file].end - start))
    }

    /// The spans that make up a piece, in order; pad-file spans included (they read as zeros).
    public func spans(of piece: PieceIndex) -> [FileSpan] {
        spans(offset: pieces.offset(of: piece), length: length(of: piece))
    }

    /// The spans covering any range of the piece stream.
    public func spans(offset: Int64, length: Int) -> [FileSpan] {
        var result: [FileSpan] = []
        guard length > 0 else { return result }
        let end = offset + Int64(length)
        var position = firstDataFile(endingAfter: offset)
        while position < dataFiles.count {
            let index = dataFiles[position]
            let file = files[index]
            if file.offset >= end { break }
            let from = max(offset, file.offset)
            let to = min(end, file.end)
            if to > from {
                result.append(FileSpan(file: index, fileOffset: from - file.offset, rangeOffset: Int(from - offset), length: Int(to - from)))
            }
            position += 1
        }
        return result
    }

    /// The file whose bytes include stream offset `offset`, if any.
    public func fileContaining(_ offset: Int64) -> Int? {
        let position = firstDataFile(endingAfter: offset)
        guard position < dataFiles.count, files[dataFiles[position]].offset <= offset else { return nil }
        return dataFiles[position]
    }

    /// Position in `dataFiles` of the first file whose end is past `offset`.
    private func firstDataFile(endingAfter offset: Int64) -> Int {
        var low = 0, high = dataFiles.count
        while low < high {
            let middle = (low + high) / 2
            if files[dataFiles[middle]].end <= offset { low = middle + 1 } else { high = middle }
        }
        return low
    }

    // MARK: - Files → pieces

    /// Raw indices of the pieces holding any byte of file `index` (empty for empty files).
    public func pieceRange(ofFile index: Int) -> Range<Int> {
        let file = files[index]
        guard file.length > 0 else { return 0..<0 }
        let length = Int64(pieceLength)
        return Int(file.offset / length)..<Int((file.end - 1) / length + 1)
    }
}
