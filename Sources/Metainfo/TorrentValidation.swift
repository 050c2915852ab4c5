import Bencode
import Hashing

/// The checks that need the whole torrent: paths against each other, v2 piece layers, hybrids,
/// duplicate keys. Invalid ones throw; ambiguous ones are returned (see `MetainfoRule`).
extension Torrent {
    /// Unsafe components, symlinks leaving the torrent, two files with one path, a file that is also a folder.
    static func pathProblems(name: String, files: [TorrentFile], isMultiFile: Bool) -> (problems: [MetainfoProblem], unsafe: [(String, UnsafePathReason)]) {
        var problems: [MetainfoProblem] = []
        var unsafe: [(String, UnsafePathReason)] = []
        if let reason = UnsafePathReason.check(name) {
            unsafe.append((name, reason))
            problems.append(MetainfoProblem(.unsafePath, "unsafe path \"\(TerminalText.escape(name))\" ('name'): \(reason.rawValue)"))
        }
        guard isMultiFile else { return (problems, unsafe) }
        var filePaths = Set<[String]>()
        filePaths.reserveCapacity(files.count)
        var folders = Set<[String]>()
        // Files come grouped by folder: a file's folders that the previous file shares are in already.
        var previous: [String] = []
        var duplicates = 0, mixed = 0
        for (index, file) in files.enumerated() {
            for component in file.path {
                if let reason = UnsafePathReason.check(component) {
                    unsafe.append((file.displayPath, reason))
                    problems.append(MetainfoProblem(.unsafePath, "unsafe path \"\(file.terminalPath)\" (file \(index)): \(reason.rawValue)"))
                    break
                }
            }
            if let target = file.symlinkTarget, !symlinkStaysInside(target) {
                problems.append(MetainfoProblem(.unsafeSymlink, "file \(index) \"\(file.terminalPath)\" links to \"\(TerminalText.escape(target.joined(separator: "/")))\", outside the torrent"))
            }
            // Pad files share `.pad/N` names by design; they never reach the disk.
            guard !file.isPadding else { continue }
            if !filePaths.insert(file.path).inserted, duplicates < 10 {
                duplicates += 1
                problems.append(MetainfoProblem(.duplicatePath, "file \(index) \"\(file.terminalPath)\" has the path of an earlier file"))
            }
            let path = file.path
            var shared = 0
            while shared < min(previous.count, path.count) - 1 && previous[shared] == path[shared] { shared += 1 }
            for depth in (shared + 1)..<max(shared + 1, path.count) { folders.insert(Array(path[..<depth])) }
            previous = path
        }
        for path in folders where filePaths.contains(path) && mixed < 10 {
            mixed += 1
            problems.append(MetainfoProblem(.fileAndFolder, "\"\(TerminalText.escape(path.joined(separator: "/")))\" is both a file and a folder"))
        }
        return (problems, unsafe)
    }

    /// A symlink target (relative to the torrent's root folder) that never climbs above it.
    static func symlinkStaysInside(_ target: [String]) -> Bool {
        var depth = 0
        for component in target {
            if component.isEmpty || component == "." { continue }
            if component == ".." { depth -= 1; if depth < 0 { return false } } else if component.contains("/") || component.contains("\0") { return false } else { depth += 1 }
        }
        return true
    }

    /// Dictionaries with a key given twice with different values: which one a client
    /// uses is a guess (the info hash covers both). A quick pass without strings first: this walks
    /// every file entry of large torrents.
    static func duplicateKeys(_ value: BencodeValue, label: String) -> [MetainfoProblem] {
        guard hasDuplicateKey(value) else { return [] }
        var problems: [MetainfoProblem] = []
        describeDuplicateKeys(value, path: label, into: &problems)
        return problems
    }

    static func hasDuplicateKey(_ value: BencodeValue) -> Bool {
        switch value {
        case .dictionary(let entries):
            if entries.count <= 16 {
                for (index, entry) in entries.enumerated() {
                    for other in entries[(index + 1)...] where other.key == entry.key && other.value != entry.value { return true }
                }
            } else {
                // Large dictionaries (a folder of a v2 file tree, piece layers): hash the keys.
                var seen: [[UInt8]: BencodeValue] = [:]
                for entry in entries {
                    if let earlier = seen.updateValue(entry.value, forKey: entry.key), earlier != entry.value { return true }
                }
            }
            return entries.contains { hasDuplicateKey($0.value) }
        case .list(let items):
            return items.contains { item in
                switch item { case .dictionary, .list: return hasDuplicateKey(item); default: return false }
            }
        default:
            return false
        }
    }

    static func describeDuplicateKeys(_ value: BencodeValue, path: String, into problems: inout [MetainfoProblem]) {
        guard problems.count < 10, hasDuplicateKey(value) else { return }
        switch value {
        case .dictionary(let entries):
            for (index, entry) in entries.enumerated() {
                let key = TerminalText.escape(bytes: entry.key)
                if entries[(index + 1)...].contains(where: { $0.key == entry.key && $0.value != entry.value }),
                   !entries[..<index].contains(where: { $0.key == entry.key }) {
                    problems.append(MetainfoProblem(.duplicateKey, "\(path) has the key '\(key)' twice with different values"))
                }
                describeDuplicateKeys(entry.value, path: path == "the torrent" ? key : "\(path).\(key)", into: &problems)
            }
        case .list(let items):
            for (index, item) in items.enumerated() { describeDuplicateKeys(item, path: "\(path)[\(index)]", into: &problems) }
        default:
            break
        }
    }

    /// BEP 52 piece layers: present for every file larger than a piece, of the right length, hashing
    /// up to the file's `pieces root`, and none for files the torrent does not have.
    static func checkPieceLayers(_ layers: [[UInt8]: [UInt8]], files: [TorrentFile], pieceLength: Int) throws(MetainfoError) {
        var roots = Set<[UInt8]>()
        let blocksPerPiece = pieceLength / PieceLayout.blockSize
        let padding = TorrentCreator.zeroSubtreeRoot(leaves: blocksPerPiece)
        for (index, file) in files.enumerated() {
            guard let root = file.piecesRoot else { continue }
            roots.insert(root)
            guard file.length > Int64(pieceLength) else { continue }
            let name = "file \(index) \"\(file.terminalPath)\""
            guard let layer = layers[root] else {
                throw .rejected(MetainfoProblem(.missingPieceLayer, "\(name) has no entry in 'piece layers'"))
            }
            let pieces = Int((file.length + Int64(pieceLength) - 1) / Int64(pieceLength))
            guard layer.count == pieces * 32 else {
                throw .rejected(MetainfoProblem(.pieceLayerSize, "the 'piece layers' entry of \(name) is \(layer.count) bytes, not \(pieces) × 32"))
            }
            var hashes: [[UInt8]] = []
            hashes.reserveCapacity(pieces)
            for start in stride(from: 0, to: layer.count, by: 32) { hashes.append(Array(layer[start..<start + 32])) }
            let computed = TorrentCreator.merkleRoot(hashes, width: TorrentCreator.nextPowerOfTwo(pieces), padding: padding)
            guard computed == root else {
                throw .rejected(MetainfoProblem(.pieceLayerRoot, "the 'piece layers' entry of \(name) does not hash to its 'pieces root'"))
            }
        }
        if let stray = layers.keys.first(where: { !roots.contains($0) }) {
            throw .rejected(MetainfoProblem(.unknownPieceLayer, "'piece layers' has an entry for \(Hex.encode(stray)), the root of no file"))
        }
    }

    /// A hybrid's v1 list (pad files aside) and its v2 tree must be the same files in the same order.
    static func checkHybrid(v1: [TorrentFile], v2: [TorrentFile]) throws(MetainfoError) {
        let real = v1.filter { !$0.isPadding }
        guard real.count == v2.count else {
            throw .rejected(MetainfoProblem(.hybridMismatch, "hybrid: 'files' lists \(real.count) files but 'file tree' \(v2.count)"))
        }
        for (index, (one, two)) in zip(real, v2).enumerated() where one.path != two.path || one.length != two.length {
            throw .rejected(MetainfoProblem(.hybridMismatch, "hybrid: file \(index) is \"\(one.terminalPath)\" (\(one.length) bytes) in 'files' but \"\(two.terminalPath)\" (\(two.length) bytes) in 'file tree'"))
        }
        // v1 files after the first must start on a piece boundary, which the pad files ensure.
    }
}
