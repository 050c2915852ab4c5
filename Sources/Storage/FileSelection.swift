import Metainfo

/// Which files of a torrent a download wants (`tt download --files`, `--only`, BEP 53 `so=`): the rest
/// are not created, and the bytes of theirs that share a piece with a wanted file go to the parts file.
public struct FileSelection: Sendable, Equatable {
    /// Indexes into the torrent's file list, as `tt info` numbers them (pad files count, as in BEP 53).
    public var selected: Set<Int>

    public init(_ selected: Set<Int>) { self.selected = selected }

    public static func all(_ layout: FileLayout) -> FileSelection { FileSelection(Set(layout.files.indices)) }

    /// Pad files are always "selected": they are zeros and never on disk either way.
    public func isSelected(_ file: Int, in layout: FileLayout) -> Bool {
        layout.files[file].isPadding || selected.contains(file)
    }

    public func isEverything(_ layout: FileLayout) -> Bool {
        layout.files.indices.allSatisfy { isSelected($0, in: layout) }
    }

    /// Pieces holding a byte of a selected (non-pad) file: what a download fetches and checks.
    public func wantedPieces(_ layout: FileLayout) -> Bitfield {
        var wanted = Bitfield(pieceCount: layout.pieceCount)
        for (index, file) in layout.files.enumerated() where !file.isPadding && selected.contains(index) {
            for piece in layout.pieceRange(ofFile: index) { wanted[piece] = true }
        }
        return wanted
    }

    /// Unselected, non-pad files: their bytes (when a wanted piece carries some) live in the parts file.
    public func unselectedFiles(_ layout: FileLayout) -> [Int] {
        layout.files.indices.filter { !isSelected($0, in: layout) }
    }

    /// Parses `0,3-5` (indexes and inclusive ranges, as `tt info` numbers files) for a torrent of
    /// `fileCount` files; the error says which part is wrong.
    public static func parseIndexes(_ text: String, fileCount: Int) -> Result<Set<Int>, SelectionError> {
        var result: Set<Int> = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false).map({ String($0.filter { $0 != " " }) }) {
            let bounds = part.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard let low = Int(bounds[0]), let high = bounds.count == 2 ? Int(bounds[1]) : low, low >= 0, low <= high else {
                return .failure(SelectionError("'\(part)' is not a file index or a range like 3-5"))
            }
            guard high < fileCount else {
                return .failure(SelectionError("file \(high) does not exist: the torrent has \(fileCount) file\(fileCount == 1 ? "" : "s") (0 to \(fileCount - 1))"))
            }
            result.formUnion(low...high)
        }
        return .success(result)
    }
}

public struct SelectionError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
