import Bencode

/// The keys of a v1 file entry, as bytes.
enum FileKey {
    static let length = Array("length".utf8)
    static let path = Array("path".utf8)
    static let utf8Path = Array("path.utf-8".utf8)
    static let attr = Array("attr".utf8)
    static let symlinkPath = Array("symlink path".utf8)
}

/// Reading the file lists: v1 `length`/`files` (with BEP 47 attributes) and the BEP 52 `file tree`.
extension Torrent {
    /// libtorrent refuses any file of this length or more (its file offsets are 44 bits of 16 KiB blocks).
    public static let maxFileLength: Int64 = (1 << 44) - (1 << 14)
    /// libtorrent's default load limit on the number of pieces.
    public static let maxPieceCount = 1 << 21
    /// The largest piece length libtorrent accepts.
    public static let maxPieceLength = 1 << 29
    /// The legacy name of pad files made before BEP 47 had `attr` (BitComet and others).
    static let legacyPadPrefix = Array("_____padding_file_".utf8)

    /// A name from the torrent: the text when it is UTF-8, else libtorrent's repair together with the
    /// raw bytes. libtorrent replaces each bad sequence (a lead byte and the continuation bytes it
    /// claims, whatever they are) with one `_`, so `caf\xE9.txt` becomes `caf_xt`.
    static func decodeName(_ bytes: [UInt8]) -> (text: String, raw: [UInt8]?) {
        if let text = String(validatingUTF8Bytes: bytes) { return (text, nil) }
        var out = ""
        var position = 0
        var decoder = UTF8()
        while position < bytes.count {
            var iterator = bytes[position...].makeIterator()
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                out.unicodeScalars.append(scalar)
                position += UTF8.width(scalar)
            case .error, .emptyInput:
                let lead = bytes[position]
                let claimed = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
                out += "_"
                position += min(claimed, bytes.count - position)
                decoder = UTF8()
            }
        }
        return (out, bytes)
    }

    /// A path component as `download` writes it: control characters become `_`, as libtorrent
    /// writes them (the rest was repaired or refused when the torrent was read).
    public static func diskComponent(_ component: String) -> String {
        guard component.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return component }
        var out = String.UnicodeScalarView()
        for scalar in component.unicodeScalars { out.append(scalar.value < 0x20 || scalar.value == 0x7F ? "_" : scalar) }
        return String(out)
    }

    static func attributes(_ value: BencodeValue?) -> String {
        guard let bytes = value?.bytesValue else { return "" }
        return String(decoding: bytes.filter { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) }, as: UTF8.self)
    }

    static func checkedLength(_ value: BencodeValue?, field: String) throws(MetainfoError) -> Int64? {
        guard let value else { return nil }
        var length: Int64
        switch value {
        case .integer(let number): length = number
        case .rawInteger(let digits):
            // `i007e` reads as 7, as libtorrent reads it (the bencode warning says it is non-canonical).
            guard let number = Int64(digits) else {
                throw .rejected(MetainfoProblem(.fileTooLarge, "\(field) \(digits) does not fit in 64 bits"))
            }
            length = number
        default: throw .invalid("\(field) is not an integer")
        }
        guard length >= 0 else { throw .invalid("\(field) is negative (\(length))") }
        guard length < maxFileLength else {
            throw .rejected(MetainfoProblem(.fileTooLarge, "\(field) \(length) is not below \(maxFileLength) (16 TiB − 16 KiB)"))
        }
        return length
    }

    /// Decodes a list of path components; nil when any is not a byte string.
    static func components(_ value: BencodeValue?) -> (path: [String], raw: [[UInt8]]?)? {
        guard let list = value?.listValue else { return nil }
        var path: [String] = []
        path.reserveCapacity(list.count)
        var raw: [[UInt8]]? = nil
        for (index, item) in list.enumerated() {
            guard let bytes = item.bytesValue else { return nil }
            let (text, invalid) = decodeName(bytes)
            if invalid != nil && raw == nil { raw = list[..<index].map { $0.bytesValue ?? [] } }
            raw?.append(bytes)
            path.append(text)
        }
        return (path, raw)
    }

    static func parseV1Files(info: BencodeValue, name: String, rawName: [UInt8]?) throws(MetainfoError) -> ([TorrentFile], Bool) {
        if info["length"] != nil || info["files"] == nil {
            guard let length = try checkedLength(info["length"], field: "info 'length'") else {
                throw .invalid("info has neither 'length' nor a 'files' list")
            }
            if info["files"] != nil { throw .invalid("info has both 'length' and 'files'") }
            return ([TorrentFile(path: [name], length: length, offset: 0, attributes: attributes(info["attr"]),
                                 rawPath: rawName.map { [$0] })], false)
        }
        guard let list = info["files"]?.listValue else { throw .invalid("info 'files' is not a list") }
        guard !list.isEmpty else { throw .rejected(MetainfoProblem(.noFiles, "info 'files' is empty")) }
        var files: [TorrentFile] = []
        files.reserveCapacity(list.count)
        var offset: Int64 = 0
        for (index, item) in list.enumerated() {
            guard case .dictionary(let entries) = item else { throw .invalid("file \(index) of 'files' is not a dictionary") }
            // One pass over the entry's keys (first occurrence wins): this runs for every file.
            var lengthValue: BencodeValue?, pathValue: BencodeValue?, utf8PathValue: BencodeValue?
            var attrValue: BencodeValue?, linkValue: BencodeValue?
            for entry in entries {
                switch entry.key {
                case FileKey.length: if lengthValue == nil { lengthValue = entry.value }
                case FileKey.path: if pathValue == nil { pathValue = entry.value }
                case FileKey.utf8Path: if utf8PathValue == nil { utf8PathValue = entry.value }
                case FileKey.attr: if attrValue == nil { attrValue = entry.value }
                case FileKey.symlinkPath: if linkValue == nil { linkValue = entry.value }
                default: break
                }
            }
            let attr = attributes(attrValue)
            var isPad = attr.contains("p")
            let isLink = attr.contains("l")
            // BEP 47: a symlink's length is meaningless (libtorrent reads it as 0), and it may be absent.
            var length = try checkedLength(lengthValue, field: "file \(index) 'length'")
            if isLink { length = 0 }
            guard let length else { throw .invalid("file \(index) has no 'length'") }
            var path: [String]
            var raw: [[UInt8]]? = nil
            let givenPath = utf8PathValue ?? pathValue
            if let decoded = components(givenPath) {
                (path, raw) = decoded
            } else if isPad && givenPath == nil {
                path = []
            } else {
                throw .invalid("file \(index) has no 'path' list of strings")
            }
            if let last = givenPath?.listValue?.last?.bytesValue, last.starts(with: legacyPadPrefix) {
                isPad = true
            }
            if path.isEmpty {
                // libtorrent names pad files without a path `.pad/LENGTH`.
                guard isPad else { throw .rejected(MetainfoProblem(.emptyPathList, "file \(index) has an empty 'path' list")) }
                path = [".pad", String(length)]
            }
            var target: [String]? = nil
            if isLink, let link = components(linkValue) { target = link.path }
            let (end, overflow) = offset.addingReportingOverflow(length)
            guard !overflow, end < Int64.max / 2 else {
                throw .rejected(MetainfoProblem(.fileTooLarge, "the file lengths add up beyond 2^62 at file \(index)"))
            }
            files.append(TorrentFile(path: path, length: length, offset: offset, isPadding: isPad, attributes: attr,
                                     symlinkTarget: target, rawPath: raw))
            offset = end
        }
        return (files, true)
    }

    /// Walks a BEP 52 file tree; files are listed in key order, each starting on a piece boundary.
    static func parseFileTree(info: BencodeValue, name: String, pieceLength: Int) throws(MetainfoError) -> ([TorrentFile], Bool) {
        guard let tree = info["file tree"], case .dictionary = tree else { throw .invalid("'file tree' is not a dictionary") }
        var files: [TorrentFile] = []
        var offset: Int64 = 0
        var anyRaw = false
        var rawPaths: [[[UInt8]]] = []
        func walk(_ node: BencodeValue, _ path: [String], _ raw: [[UInt8]], _ depth: Int) throws(MetainfoError) {
            guard depth < 64 else { throw .invalid("'file tree' is nested too deep") }
            guard let entries = node.dictionaryEntries else { throw .invalid("'file tree' node \(path.joined(separator: "/")) is not a dictionary") }
            // BEP 52 lists files in key order: out of order or twice, the order is a guess (libtorrent refuses it).
            for (earlier, later) in zip(entries, entries.dropFirst()) where !earlier.key.lexicographicallyPrecedes(later.key) {
                throw .rejected(MetainfoProblem(.unsortedFileTree, "'file tree' folder '\(TerminalText.escape(path.joined(separator: "/")))' has '\(TerminalText.escape(bytes: later.key))' after '\(TerminalText.escape(bytes: earlier.key))' (names must be sorted and unique)"))
            }
            for entry in entries {
                if entry.key.isEmpty {
                    let field = "file tree entry '\(path.joined(separator: "/"))'"
                    guard case .dictionary = entry.value else { throw .invalid("\(field) is not a dictionary") }
                    let attr = attributes(entry.value["attr"])
                    var length = try checkedLength(entry.value["length"], field: "\(field) 'length'")
                    if attr.contains("l") { length = 0 }
                    guard let length else { throw .invalid("\(field) has no 'length'") }
                    let root = entry.value["pieces root"]?.bytesValue
                    if length > 0 {
                        guard let root, root.count == 32, root.contains(where: { $0 != 0 }) else {
                            throw .rejected(MetainfoProblem(.badPiecesRoot, "\(field) has no 32-byte 'pieces root' (or one of zeros)"))
                        }
                    }
                    let target = attr.contains("l") ? components(entry.value["symlink path"])?.path : nil
                    files.append(TorrentFile(path: path, length: length, offset: offset, attributes: attr,
                                             piecesRoot: length > 0 ? root : nil, symlinkTarget: target))
                    rawPaths.append(raw)
                    let pieces = (length + Int64(pieceLength) - 1) / Int64(pieceLength)
                    offset += pieces * Int64(pieceLength)
                    guard offset < Int64.max / 2 else {
                        throw .rejected(MetainfoProblem(.fileTooLarge, "the file lengths in 'file tree' add up beyond 2^62"))
                    }
                    continue
                }
                let (component, invalid) = decodeName(entry.key)
                if invalid != nil { anyRaw = true }
                try walk(entry.value, path + [component], raw + [entry.key], depth + 1)
            }
        }
        try walk(tree, [], [], 0)
        guard !files.isEmpty else { throw .rejected(MetainfoProblem(.noFiles, "'file tree' has no files")) }
        if anyRaw {
            for index in files.indices where rawPaths[index].contains(where: { String(validatingUTF8Bytes: $0) == nil }) {
                files[index].rawPath = rawPaths[index]
            }
        }
        // A single file whose tree key is the torrent name is a single-file torrent. Offsets stay
        // piece-aligned (BEP 52): every file starts a new piece.
        return (files, !(files.count == 1 && files[0].path == [name]))
    }
}
