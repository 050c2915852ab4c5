import Bencode

/// Rewrites chosen fields of a .torrent and keeps every other byte: unknown keys stay, and the info
/// dictionary's raw bytes (hence the info hash) stay unless an info field (`private`, `source`) changes.
public struct TorrentEditor: Sendable {
    /// A field's new value: nil leaves it alone; an empty value removes the key.
    public var trackerTiers: [[String]]?
    public var webSeeds: [String]?
    public var comment: String?
    public var isPrivate: Bool?
    public var source: String?

    public init() {}

    public struct Result: Sendable {
        public var bytes: [UInt8]
        /// True when the info dictionary's bytes differ: a different info hash, so a different swarm.
        public var infoChanged: Bool
    }

    public func apply(to bytes: [UInt8]) throws(MetainfoError) -> Result {
        let document: BencodeDocument
        do { document = try BencodeDecoder(strictness: .lenient).decode(bytes) } catch { throw .bencode(error) }
        guard case .dictionary(let entries) = document.root else { throw .invalid("the top level is not a dictionary") }
        guard let infoSpan = document.span(ofTopLevelKey: "info"), let info = document.root["info"] else {
            throw .invalid("no 'info' dictionary")
        }
        // Each top-level value as its raw bytes, first occurrence of a key only (as the info hash reads it).
        var fields: [(key: [UInt8], raw: [UInt8])] = []
        for entry in entries where !fields.contains(where: { $0.key == entry.key }) {
            guard let span = document.topLevelSpans[entry.key] else { continue }
            fields.append((entry.key, Array(bytes[span])))
        }

        let oldInfo = Array(bytes[infoSpan])
        let newInfo = try editedInfo(info, raw: oldInfo)
        Self.set(&fields, "info", newInfo)
        if let tiers = trackerTiers?.map({ $0.filter { !$0.isEmpty } }).filter({ !$0.isEmpty }) {
            let hadList = fields.contains { $0.key == Array("announce-list".utf8) }
            Self.set(&fields, "announce", tiers.first.map { BencodeValue.string($0[0]).encoded() })
            let list = hadList || tiers.joined().count > 1
                ? BencodeValue.list(tiers.map { .list($0.map(BencodeValue.string)) }).encoded() : nil
            Self.set(&fields, "announce-list", tiers.isEmpty ? nil : list)
        }
        if let webSeeds {
            let value: BencodeValue? = webSeeds.isEmpty ? nil
                : webSeeds.count == 1 ? .string(webSeeds[0]) : .list(webSeeds.map(BencodeValue.string))
            Self.set(&fields, "url-list", value?.encoded())
        }
        if let comment { Self.set(&fields, "comment", comment.isEmpty ? nil : BencodeValue.string(comment).encoded()) }

        var out: [UInt8] = [UInt8(ascii: "d")]
        for field in fields {
            BencodeValue.string(field.key).encode(into: &out)
            out += field.raw
        }
        out.append(UInt8(ascii: "e"))
        return Result(bytes: out, infoChanged: newInfo != oldInfo)
    }

    /// The info dictionary with `private` and `source` as asked; the raw bytes when nothing differs.
    func editedInfo(_ info: BencodeValue, raw: [UInt8]) throws(MetainfoError) -> [UInt8] {
        guard isPrivate != nil || source != nil else { return raw }
        guard case .dictionary(var entries) = info else { throw .invalid("'info' is not a dictionary") }
        var changed = false
        func put(_ key: String, _ value: BencodeValue?) {
            let key = Array(key.utf8)
            let existing = entries.firstIndex { $0.key == key }
            if let existing, entries[existing].value == value { return }
            if existing == nil && value == nil { return }
            changed = true
            entries.removeAll { $0.key == key }
            guard let value else { return }
            let at = entries.firstIndex { key.lexicographicallyPrecedes($0.key) } ?? entries.endIndex
            entries.insert(BencodeEntry(key: key, value: value), at: at)
        }
        // BEP 27: only `private` = 1 means private, so `private: 0` already is "not private".
        let flagged = entries.first { $0.key == Array("private".utf8) }?.value == .integer(1)
        if let isPrivate, isPrivate != flagged { put("private", isPrivate ? .integer(1) : nil) }
        if let source { put("source", source.isEmpty ? nil : .string(source)) }
        // Re-encoded in stored order, so keys the file had out of order stay where they were.
        return changed ? BencodeValue.dictionary(entries).encodedPreservingOrder() : raw
    }

    /// Replaces a top-level value in place, removes it (nil), or inserts it where sorted order puts it.
    static func set(_ fields: inout [(key: [UInt8], raw: [UInt8])], _ key: String, _ raw: [UInt8]?) {
        let key = Array(key.utf8)
        if let index = fields.firstIndex(where: { $0.key == key }) {
            if let raw { fields[index].raw = raw } else { fields.remove(at: index) }
        } else if let raw {
            let at = fields.firstIndex { key.lexicographicallyPrecedes($0.key) } ?? fields.endIndex
            fields.insert((key, raw), at: at)
        }
    }
}
