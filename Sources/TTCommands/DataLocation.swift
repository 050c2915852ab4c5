import FoundationEssentials
import Glibc
import Metainfo
import Storage

/// Where a torrent's data lies, from the path a user gave `seed` or `verify`: the file or root folder
/// itself, or the folder `tt download -o DIR` wrote into (`DIR/<name>`), the save path of libtorrent,
/// `aria2c -d` and Transmission's `-w` (README "Recipes", tt-seed(1), tt-verify(1)).
struct DataLocation {
    enum Reading: String { case content, saveFolder = "save_folder" }

    /// The file (single-file torrent) or root folder (multi-file) to read.
    var contentPath: String
    var reading: Reading
    /// When both readings were possible: which one was taken and why, for the user.
    var choice: String?
    /// When neither reading found any of the data: what was looked for. `seed` refuses (exit 66);
    /// `verify` warns and reports the files missing (exit 1).
    var notFound: String?

    /// The error `seed` gives when nothing was found.
    var notFoundError: TTError? { notFound.map { TTError(.noInput, kind: "no_input", $0) } }

    /// Resolves `path` (the user's `argument`, made absolute) for `torrent`. A path that does not exist
    /// is exit 66; one that exists but holds none of the data is read as given, with `notFound` set.
    static func resolve(_ argument: String, path: String, torrent: Torrent) throws(TTError) -> DataLocation {
        let name = torrent.name
        let inside = PathName.appending(path, name)
        let shownInside = PathName.appending(argument, name)
        guard let kind = kind(of: path) else {
            throw TTError(.noInput, kind: "no_input", "\(argument): no such file or folder (looked for the data of '\(name)' there)")
        }
        if !torrent.isMultiFile {
            if kind == .file { return DataLocation(contentPath: path, reading: .content) }
            if Self.kind(of: inside) == .file { return DataLocation(contentPath: inside, reading: .saveFolder) }
            return DataLocation(contentPath: inside, reading: .saveFolder,
                                notFound: "\(argument) is a folder and \(shownInside) does not exist: give the file of '\(name)' or the folder it was saved into")
        }
        guard kind == .folder else {
            throw TTError(.noInput, kind: "no_input", "\(argument) is a file, but '\(name)' is a multi-file torrent: give its folder or the folder it was saved into")
        }
        let files = torrent.files.filter { !$0.isPadding }
        let rootHits = present(files, under: path)
        let namedLikeRoot = PathName.last(path) == name
        guard Self.kind(of: inside) == .folder else {
            if rootHits > 0 || namedLikeRoot { return DataLocation(contentPath: path, reading: .content) }
            let example = files.first.map { PathName.appending(argument, $0.displayPath) } ?? argument
            return DataLocation(contentPath: path, reading: .content,
                                notFound: "no data of '\(name)' at \(argument): looked for its files in it as the torrent's folder (e.g. \(example)) and for \(shownInside)/ as the folder it was saved into")
        }
        let savedHits = present(files, under: inside)
        if rootHits == 0 { return DataLocation(contentPath: inside, reading: .saveFolder) }
        // Both readings fit: take the one holding more of the torrent's files (a tie: the folder's name decides).
        let takeSaved = savedHits > rootHits || (savedHits == rootHits && !namedLikeRoot)
        let why = "\(argument) could be the torrent's folder (\(rootHits) of \(files.count) files there) or the folder it was saved into (\(savedHits) in \(shownInside))"
        return takeSaved
            ? DataLocation(contentPath: inside, reading: .saveFolder, choice: "\(why); using \(shownInside)")
            : DataLocation(contentPath: path, reading: .content, choice: "\(why); using \(argument) itself — give \(shownInside) to use the other")
    }

    enum Kind { case file, folder }

    static func kind(of path: String) -> Kind? {
        PathName.kind(path).map { $0 == .directory ? .folder : .file }
    }

    /// How many of `files` exist below `root` as regular files.
    static func present(_ files: [TorrentFile], under root: String) -> Int {
        files.reduce(0) { count, file in
            count + (kind(of: PathName.appending(root, file.displayPath)) == .file ? 1 : 0)
        }
    }

    init(contentPath: String, reading: Reading, choice: String? = nil, notFound: String? = nil) {
        self.contentPath = contentPath
        self.reading = reading
        self.choice = choice
        self.notFound = notFound
    }

    /// The states `tt download -o folder` left in `folder/.tt/` whose data is in the folder, newest first:
    /// how `tt verify DIR` finds its torrent when DIR is the save folder rather than the data.
    static func savedStates(in folder: String) -> [(path: String, state: ResumeState)] {
        let stateFolder = PathName.appending(folder, ResumeState.directoryName)
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: stateFolder) else { return [] }
        var found: [(path: String, state: ResumeState, modified: Int)] = []
        for entry in entries where entry.hasSuffix(".\(ResumeState.fileExtension)") {
            let path = PathName.appending(stateFolder, entry)
            guard let state = try? ResumeState.load(path: path),
                  kind(of: PathName.appending(folder, state.name)) != nil else { continue }
            var info = stat()
            stat(path, &info)
            found.append((path, state, info.st_mtim.tv_sec))
        }
        return found.sorted { $0.modified > $1.modified }.map { ($0.path, $0.state) }
    }
}
