import FoundationEssentials
import Glibc
import Metainfo
import Storage

/// `download --files 0,3-5`, `--only GLOB…` and a magnet's BEP 53 `so=`: which files to fetch, by the
/// index `tt info` gives each (its place in the torrent's file list, pad files counted as in BEP 53).
enum FileSelectionOptions {
    static let files = OptionSpec(["--files"], value: "LIST", repeats: true,
                                  help: "download only these files: indexes and ranges as 'tt info' numbers them, e.g. 0,3-5")
    static let only = OptionSpec(["--only"], value: "GLOB", repeats: true,
                                 help: "download only files whose path (below the torrent's folder) matches GLOB (repeatable)")

    /// The `so=` value of a magnet link, when it has one.
    static func selectOnly(inMagnet link: String) -> String? {
        guard link.hasPrefix("magnet:?") else { return nil }
        for pair in link.dropFirst("magnet:?".count).split(separator: "&") where pair.hasPrefix("so=") {
            return MagnetLink.percentDecode(String(pair.dropFirst(3)))
        }
        return nil
    }

    /// The selection the options (and `magnetSelect`, BEP 53) ask for, or nil for every file.
    /// Usage errors name what does not fit: an index past the last file, a glob matching nothing.
    static func selection(_ arguments: ParsedArguments, torrent: Torrent, magnetSelect: String?) throws(TTError) -> FileSelection? {
        let lists = arguments.all("--files") + (magnetSelect.map { [$0] } ?? [])
        let globs = arguments.all("--only")
        guard !lists.isEmpty || !globs.isEmpty else { return nil }
        var chosen = Set<Int>()
        for list in lists {
            switch FileSelection.parseIndexes(list, fileCount: torrent.files.count) {
            case .success(let indexes): chosen.formUnion(indexes)
            case .failure(let error):
                throw .usage("\(arguments.all("--files").contains(list) ? "--files" : "the magnet's so=") '\(list)': \(error)")
            }
        }
        for glob in globs {
            let matching = torrent.files.indices.filter { index in
                let file = torrent.files[index]
                return !file.isPadding && (fnmatch(glob, file.displayPath, 0) == 0 || fnmatch(glob, PathName.last(file.displayPath), 0) == 0)
            }
            guard !matching.isEmpty else { throw .usage("--only '\(glob)' matches no file of \(torrent.name) (see 'tt info')") }
            chosen.formUnion(matching)
        }
        chosen = chosen.filter { !torrent.files[$0].isPadding }
        guard !chosen.isEmpty else { throw .usage("the selection holds only pad files; nothing to download") }
        return FileSelection(chosen)
    }
}
