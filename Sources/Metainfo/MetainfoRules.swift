/// The rules a torrent must pass, in one table (tt-info(1) prints the same table).
///
/// `invalid` rules are the torrents libtorrent refuses: nothing can be done with them.
/// `ambiguous` rules are the torrents a client would have to guess about (libtorrent loads them and
/// silently renames or drops parts): every command refuses them, `tt info --lenient` shows them
/// with warnings.
public enum MetainfoRule: String, CaseIterable, Sendable {
    // Sizes
    case zeroLength = "zero_length"
    case fileTooLarge = "file_too_large"
    case tooManyPieces = "too_many_pieces"
    case pieceLength = "bad_piece_length"
    case pieceCount = "piece_count_mismatch"
    // Names and files
    case badName = "bad_name"
    case noFiles = "no_files"
    case emptyPathList = "empty_path"
    // v2 (BEP 52)
    case v2PieceLength = "v2_piece_length"
    case missingPieceLayer = "missing_piece_layer"
    case pieceLayerSize = "piece_layer_size"
    case pieceLayerRoot = "piece_layer_mismatch"
    case badPiecesRoot = "bad_pieces_root"
    case unknownPieceLayer = "unknown_piece_layer"
    case unsortedFileTree = "unsorted_file_tree"
    case hybridMismatch = "hybrid_mismatch"
    // Ambiguous: refused unless `info --lenient`
    case duplicateKey = "duplicate_key"
    case unsafePath = "unsafe_path"
    case duplicatePath = "duplicate_path"
    case fileAndFolder = "file_and_folder"
    case unsafeSymlink = "unsafe_symlink"

    public enum Severity: String, Sendable { case invalid, ambiguous }

    public var kind: String { rawValue }

    public var severity: Severity {
        switch self {
        case .duplicateKey, .unsafePath, .duplicatePath, .fileAndFolder, .unsafeSymlink: return .ambiguous
        default: return .invalid
        }
    }

    /// What the rule demands, as the man page states it.
    public var summary: String {
        switch self {
        case .zeroLength: return "the torrent holds at least one byte of data"
        case .fileTooLarge: return "every file is shorter than 16 TiB − 16 KiB (17592186028032 bytes), and lengths add up without overflow"
        case .tooManyPieces: return "at most 2097152 pieces"
        case .pieceLength: return "piece length from 1 byte to 512 MiB"
        case .pieceCount: return "'pieces' holds one 20-byte hash per piece"
        case .badName: return "'name' is not empty, '.' or '..'"
        case .noFiles: return "a 'files' list or 'file tree' with at least one file"
        case .emptyPathList: return "every file (except pad files) has a non-empty 'path'"
        case .v2PieceLength: return "v2 piece length is a power of two of at least 16 KiB"
        case .missingPieceLayer: return "every v2 file larger than a piece has its 'piece layers' entry (a hybrid may have no 'piece layers' at all, as BEP 9 metadata comes)"
        case .pieceLayerSize: return "a piece layer holds one 32-byte hash per piece of its file"
        case .pieceLayerRoot: return "a piece layer's merkle root equals its file's 'pieces root'"
        case .badPiecesRoot: return "every v2 file with data has a 32-byte 'pieces root' that is not all zeros"
        case .unknownPieceLayer: return "every 'piece layers' entry belongs to a file of the torrent"
        case .unsortedFileTree: return "the names in each folder of 'file tree' are sorted and unique"
        case .hybridMismatch: return "a hybrid's v1 'files' and v2 'file tree' list the same files, sizes and order"
        case .duplicateKey: return "no dictionary has a key twice with different values"
        case .unsafePath: return "no path component is empty, '.', '..', absolute, or holds '/', '\\\\', NUL or a drive letter"
        case .duplicatePath: return "no two files share a path"
        case .fileAndFolder: return "no path is both a file and a folder"
        case .unsafeSymlink: return "a symlink's target stays inside the torrent"
        }
    }

    /// What libtorrent 2.0 does with such a torrent.
    public var libtorrent: String {
        switch self {
        case .zeroLength, .fileTooLarge: return "invalid length of torrent"
        case .tooManyPieces: return "too many pieces in torrent"
        case .pieceLength: return "invalid or missing 'piece length' entry in torrent file"
        case .pieceCount: return "incorrect number of piece hashes in torrent file"
        case .badName: return "missing name in torrent file"
        case .noFiles: return "no files in torrent"
        case .emptyPathList: return "missing name in torrent file"
        case .v2PieceLength: return "invalid or missing 'piece length' entry in torrent file"
        case .missingPieceLayer: return "loads; the hashes must then come from peers (tt: BEP 52 requires them in a .torrent)"
        case .pieceLayerSize: return "a piece layer is invalid"
        case .pieceLayerRoot: return "loads; the layer is found bad only when used (tt: checked on load)"
        case .unknownPieceLayer: return "loads, ignores the entry (tt: a sign of a damaged torrent)"
        case .badPiecesRoot: return "a v2 file entry has no root hash"
        case .unsortedFileTree: return "invalid bencoding"
        case .hybridMismatch: return "the v1 and v2 file metadata does not match"
        case .duplicateKey: return "loads, uses the first value"
        case .unsafePath: return "loads, drops or rewrites the component"
        case .duplicatePath, .fileAndFolder: return "loads, renames the file to NAME.1"
        case .unsafeSymlink: return "loads, points the link at itself"
        }
    }
}

/// One broken rule, with a message naming the field or file.
public struct MetainfoProblem: Hashable, Sendable, CustomStringConvertible {
    public var rule: MetainfoRule
    public var message: String

    public init(_ rule: MetainfoRule, _ message: String) {
        self.rule = rule
        self.message = message
    }

    public var description: String { message }
}
