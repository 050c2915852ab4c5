import Bencode

/// The BEP 10 extension handshake (extended message id 0): which extensions a peer speaks
/// and under which ids, its client version, listen port, our address as it sees it, request
/// queue depth and metadata size.
public struct ExtensionHandshake: Hashable, Sendable {
    /// `m`: extension name → the id the sender wants to receive it under (0 disables), in wire order.
    public var messages: [String: Int]
    /// `v`: client name and version, e.g. "libtorrent 2.0.8" or "aria2/1.36.0".
    public var version: String?
    /// `p`: the sender's TCP listen port.
    public var listenPort: Int?
    /// `yourip`: our address as the sender sees it (4 or 16 bytes).
    public var yourIP: [UInt8]?
    /// `reqq`: how many outstanding requests the sender queues.
    public var requestQueue: Int?
    /// `metadata_size` (BEP 9): the info dictionary's size.
    public var metadataSize: Int?

    public init(messages: [String: Int] = [:], version: String? = nil, listenPort: Int? = nil, yourIP: [UInt8]? = nil,
                requestQueue: Int? = nil, metadataSize: Int? = nil) {
        self.messages = messages
        self.version = version
        self.listenPort = listenPort
        self.yourIP = yourIP
        self.requestQueue = requestQueue
        self.metadataSize = metadataSize
    }

    /// The bencoded payload (after the extended message's id byte).
    public func encoded() -> [UInt8] {
        var entries: [BencodeEntry] = [
            BencodeEntry("m", .dictionary(messages.map { BencodeEntry($0.key, .integer(Int64($0.value))) })),
        ]
        if let version { entries.append(BencodeEntry("v", .string(version))) }
        if let listenPort { entries.append(BencodeEntry("p", .integer(Int64(listenPort)))) }
        if let yourIP { entries.append(BencodeEntry("yourip", .string(yourIP))) }
        if let requestQueue { entries.append(BencodeEntry("reqq", .integer(Int64(requestQueue)))) }
        if let metadataSize { entries.append(BencodeEntry("metadata_size", .integer(Int64(metadataSize)))) }
        return BencodeValue.dictionary(entries).encoded()
    }

    /// As a peer message ready to frame.
    public var message: PeerMessage { .extended(id: 0, payload: encoded()) }

    /// Decodes a received handshake; unknown keys are ignored, wrong types of known keys are errors.
    public init(decoding payload: [UInt8]) throws(PeerWireError) {
        let root: BencodeValue
        do {
            root = try BencodeDecoder(strictness: .lenient, maxDepth: 16, maxSize: 1 << 20).decode(payload).root
        } catch {
            throw .badExtensionHandshake("not bencode: \(error)")
        }
        guard case .dictionary = root else { throw .badExtensionHandshake("not a dictionary") }
        var messages: [String: Int] = [:]
        if let m = root["m"] {
            guard let entries = m.dictionaryEntries else { throw .badExtensionHandshake("'m' is not a dictionary") }
            for entry in entries {
                guard let name = String(validatingUTF8Bytes: entry.key) else { continue }
                guard let id = entry.value.integerValue, (0...255).contains(id) else {
                    throw .badExtensionHandshake("'m' entry '\(name)' is not an id from 0 to 255")
                }
                messages[name] = Int(id)
            }
        }
        self.messages = messages
        self.version = root["v"]?.textValue
        self.listenPort = root["p"]?.integerValue.flatMap { (1...65535).contains($0) ? Int($0) : nil }
        self.yourIP = root["yourip"]?.bytesValue.flatMap { $0.count == 4 || $0.count == 16 ? $0 : nil }
        self.requestQueue = root["reqq"]?.integerValue.flatMap { $0 >= 0 && $0 <= Int64(Int32.max) ? Int($0) : nil }
        self.metadataSize = root["metadata_size"]?.integerValue.flatMap { $0 >= 0 && $0 <= Int64(Int32.max) ? Int($0) : nil }
    }

    /// `yourip` as text.
    public var yourIPText: String? {
        guard let yourIP else { return nil }
        if yourIP.count == 4 { return yourIP.map(String.init).joined(separator: ".") }
        var groups: [String] = []
        for index in stride(from: 0, to: 16, by: 2) { groups.append(String(UInt16(yourIP[index]) << 8 | UInt16(yourIP[index + 1]), radix: 16)) }
        return groups.joined(separator: ":")
    }
}
