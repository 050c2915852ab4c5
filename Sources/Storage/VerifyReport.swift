import Metainfo

/// What a verify run found: a verdict per piece and a status per file.
public struct VerifyReport: Sendable {
    /// How a file on disk compares with the torrent.
    public enum FileStatus: String, Sendable {
        /// The right size, and every piece holding its bytes is good.
        case complete
        /// Not on disk (or not a regular file).
        case missing
        /// Smaller than the torrent says.
        case short
        /// Larger than the torrent says (the torrent's bytes may still all be good).
        case tooLong = "too_long"
        /// The right size, and at least one piece holding its bytes hashes wrong.
        case damaged
        /// The right size with no bad piece, but a piece it shares with a missing or short neighbour
        /// could not be checked.
        case unverified
        /// Not selected for download (`tt download --files`): not on disk by design, not checked.
        case skipped
    }

    public struct FileReport: Sendable {
        public let file: StorageFile
        /// Index into `layout.files`.
        public let index: Int
        public let actualSize: Int64?
        public let status: FileStatus
        /// Bad pieces holding any of this file's bytes.
        public let badPieces: [Int]
        /// Missing pieces holding any of this file's bytes.
        public let missingPieces: [Int]
    }

    public let layout: FileLayout
    public let verdicts: [PieceVerdict]
    /// Every file but pad files, in torrent order.
    public let files: [FileReport]
    public let bytesChecked: Int64
    public let seconds: Double
    /// True when the run stopped early; unchecked pieces are neither good nor bad.
    public let cancelled: Bool

    public var good: Int { verdicts.reduce(0) { $0 + ($1 == .good ? 1 : 0) } }
    /// Pieces holding bytes of unselected files only.
    public var skipped: Int { verdicts.reduce(0) { $0 + ($1 == .skipped ? 1 : 0) } }
    public var badPieces: [Int] { verdicts.indices.filter { verdicts[$0] == .bad } }
    public var missingPieces: [Int] { verdicts.indices.filter { verdicts[$0] == .missing } }
    public var throughput: Double { seconds > 0 ? Double(bytesChecked) / seconds : 0 }
    /// All pieces good and every file exactly as the torrent describes it.
    public var ok: Bool {
        !cancelled && good + skipped == verdicts.count && files.allSatisfy { $0.status == .complete || $0.status == .skipped }
    }

    /// The verified pieces as a BEP 3 bitfield (piece 0 is the high bit of byte 0).
    public var bitfield: Bitfield {
        var bits = Bitfield(pieceCount: verdicts.count)
        for index in verdicts.indices where verdicts[index] == .good { bits[index] = true }
        return bits
    }

    public init(layout: FileLayout, verdicts: [PieceVerdict], actualSizes: [Int64?], bytesChecked: Int64, seconds: Double, cancelled: Bool,
                skippedFiles: Set<Int> = []) {
        self.layout = layout
        self.verdicts = verdicts
        self.bytesChecked = bytesChecked
        self.seconds = seconds
        self.cancelled = cancelled
        var files: [FileReport] = []
        for (index, file) in layout.files.enumerated() where !file.isPadding {
            let range = layout.pieceRange(ofFile: index)
            let bad = range.filter { verdicts[$0] == .bad }
            let missing = range.filter { verdicts[$0] == .missing }
            let actual = actualSizes[index]
            let status: FileStatus
            if skippedFiles.contains(index) {
                status = .skipped
            } else if let actual {
                if actual < file.length { status = .short }
                else if actual > file.length { status = .tooLong }
                else if !bad.isEmpty { status = .damaged }
                else if !missing.isEmpty || range.contains(where: { verdicts[$0] == .unchecked }) { status = .unverified }
                else { status = .complete }
            } else {
                status = .missing
            }
            files.append(FileReport(file: file, index: index, actualSize: actual, status: status, badPieces: bad, missingPieces: missing))
        }
        self.files = files
    }
}
