import Bencode
import Net

/// KRPC bytes ↔ `KRPCMessage`, no I/O. Unknown keys are ignored (forward compatible, as BEP 5 asks);
/// required ones missing or of the wrong shape throw `malformed`, which a node answers with 203.
public enum KRPCCodec {
    /// Largest datagram we decode; KRPC messages are far smaller.
    public static let maxMessageSize = 65_536
    /// How many nodes of one `nodes`/`nodes6` string we read.
    public static let maxNodesPerReply = 64
    public static let maxValuesPerReply = 256
    public static let maxSamplesPerReply = 512

    // MARK: - Decoding

    public static func decode(_ bytes: [UInt8]) throws(DHTError) -> KRPCMessage {
        let decoder = BencodeDecoder(strictness: .lenient, maxDepth: 8, maxSize: maxMessageSize)
        let root: BencodeValue
        do { root = try decoder.decodePrefix(bytes[...]).value } catch { throw .notBencode(error.description) }
        guard root.dictionaryEntries != nil else { throw .notBencode("not a dictionary") }
        guard let t = root["t"]?.bytesValue else { throw .malformed(transactionID: nil, field: "t", reason: "is missing") }
        func bad(_ field: String, _ reason: String) -> DHTError { .malformed(transactionID: t, field: field, reason: reason) }
        guard let y = root["y"]?.textValue else { throw bad("y", "is missing") }
        let version = root["v"]?.bytesValue
        let observed = root["ip"]?.bytesValue.flatMap(Compact.address)
        let readOnly = root["ro"]?.integerValue == 1
        let body: KRPCMessage.Body
        switch y {
        case "q":
            guard let method = root["q"]?.textValue else { throw bad("q", "is missing") }
            guard let arguments = root["a"], arguments.dictionaryEntries != nil else { throw bad("a", "is missing") }
            body = .query(try query(method, arguments, bad))
        case "r":
            guard let reply = root["r"], reply.dictionaryEntries != nil else { throw bad("r", "is missing") }
            body = .response(try response(reply, bad))
        case "e":
            guard let list = root["e"]?.listValue, let code = list.first?.integerValue else { throw bad("e", "is not [code, message]") }
            let message = list.count > 1 ? list[1].textValue ?? "" : ""
            body = .error(code: Int(clamping: code), message: message)
        default:
            throw bad("y", "is '\(y.prefix(8))', expected q, r or e")
        }
        return KRPCMessage(transactionID: t, body: body, version: version, observedAddress: observed, readOnly: readOnly)
    }

    private static func id(_ value: BencodeValue?, _ field: String, _ bad: (String, String) -> DHTError) throws(DHTError) -> NodeID {
        guard let bytes = value?.bytesValue else { throw bad(field, "is missing") }
        guard let id = NodeID(bytes) else { throw bad(field, "is \(bytes.count) bytes, expected 20") }
        return id
    }

    private static func want(_ arguments: BencodeValue) -> KRPCQuery.Want {
        guard let list = arguments["want"]?.listValue else { return [] }
        var want: KRPCQuery.Want = []
        for item in list {
            if item.textValue == "n4" { want.insert(.n4) }
            if item.textValue == "n6" { want.insert(.n6) }
        }
        return want
    }

    private static func query(_ method: String, _ a: BencodeValue, _ bad: (String, String) -> DHTError) throws(DHTError) -> KRPCQuery {
        switch method {
        case "ping":
            return .ping(id: try id(a["id"], "a.id", bad))
        case "find_node":
            return .findNode(id: try id(a["id"], "a.id", bad), target: try id(a["target"], "a.target", bad), want: want(a))
        case "get_peers":
            return .getPeers(id: try id(a["id"], "a.id", bad), infoHash: try id(a["info_hash"], "a.info_hash", bad), want: want(a))
        case "announce_peer":
            let sender = try id(a["id"], "a.id", bad)
            let hash = try id(a["info_hash"], "a.info_hash", bad)
            guard let token = a["token"]?.bytesValue else { throw bad("a.token", "is missing") }
            let implied = (a["implied_port"]?.integerValue ?? 0) != 0
            var port: Int64 = 0
            if !implied {
                guard let given = a["port"]?.integerValue else { throw bad("a.port", "is missing") }
                guard (1...65535).contains(given) else { throw bad("a.port", "is \(given), expected 1 to 65535") }
                port = given
            }
            return .announcePeer(id: sender, infoHash: hash, port: UInt16(port), token: token, impliedPort: implied,
                                 seed: (a["seed"]?.integerValue ?? 0) != 0)
        case "sample_infohashes":
            return .sampleInfohashes(id: try id(a["id"], "a.id", bad), target: try id(a["target"], "a.target", bad))
        default:
            return .unknown(method: method, id: a["id"]?.bytesValue.flatMap { NodeID($0) })
        }
    }

    private static func response(_ r: BencodeValue, _ bad: (String, String) -> DHTError) throws(DHTError) -> KRPCResponse {
        var response = KRPCResponse(id: try id(r["id"], "r.id", bad))
        if let nodes = r["nodes"]?.bytesValue { response.nodes = Compact.nodes(nodes, ipLength: 4, limit: maxNodesPerReply) }
        if let nodes = r["nodes6"]?.bytesValue { response.nodes6 = Compact.nodes(nodes, ipLength: 16, limit: maxNodesPerReply) }
        if let values = r["values"]?.listValue {
            response.values = values.prefix(maxValuesPerReply).compactMap { $0.bytesValue.flatMap(Compact.address) }.filter { $0.port != 0 }
        }
        response.token = r["token"]?.bytesValue
        if let samples = r["samples"]?.bytesValue {
            var offset = 0
            while offset + 20 <= samples.count, response.samples.count < maxSamplesPerReply {
                response.samples.append(NodeID(slice: samples[offset..<offset + 20])!)
                offset += 20
            }
        }
        response.interval = r["interval"]?.integerValue.map { Int(clamping: $0) }
        response.num = r["num"]?.integerValue.map { Int(clamping: $0) }
        response.port = r["p"]?.integerValue.map { Int(clamping: $0) }
        return response
    }

    // MARK: - Encoding

    public static func encode(_ message: KRPCMessage) -> [UInt8] {
        var pairs: [(String, BencodeValue)] = [("t", .string(message.transactionID)), ("y", .string(message.y))]
        if let version = message.version { pairs.append(("v", .string(version))) }
        if let observed = message.observedAddress { pairs.append(("ip", .string(Compact.address(observed)))) }
        if message.readOnly { pairs.append(("ro", .integer(1))) }
        switch message.body {
        case .query(let query):
            pairs.append(("q", .string(query.method)))
            pairs.append(("a", .dict(arguments(query))))
        case .response(let response):
            pairs.append(("r", .dict(fields(response))))
        case .error(let code, let text):
            pairs.append(("e", .list([.integer(Int64(code)), .string(text)])))
        }
        return BencodeValue.dict(pairs).encoded()
    }

    private static func wantList(_ want: KRPCQuery.Want) -> [(String, BencodeValue)] {
        var items: [BencodeValue] = []
        if want.contains(.n4) { items.append(.string("n4")) }
        if want.contains(.n6) { items.append(.string("n6")) }
        return items.isEmpty ? [] : [("want", .list(items))]
    }

    private static func arguments(_ query: KRPCQuery) -> [(String, BencodeValue)] {
        switch query {
        case .ping(let id):
            return [("id", .string(id.bytes))]
        case .findNode(let id, let target, let want):
            return [("id", .string(id.bytes)), ("target", .string(target.bytes))] + wantList(want)
        case .getPeers(let id, let hash, let want):
            return [("id", .string(id.bytes)), ("info_hash", .string(hash.bytes))] + wantList(want)
        case .announcePeer(let id, let hash, let port, let token, let implied, let seed):
            var pairs: [(String, BencodeValue)] = [("id", .string(id.bytes)), ("info_hash", .string(hash.bytes)),
                                                   ("port", .integer(Int64(port))), ("token", .string(token))]
            if implied { pairs.append(("implied_port", .integer(1))) }
            if seed { pairs.append(("seed", .integer(1))) }
            return pairs
        case .sampleInfohashes(let id, let target):
            return [("id", .string(id.bytes)), ("target", .string(target.bytes))]
        case .unknown(_, let id):
            return id.map { [("id", .string($0.bytes))] } ?? []
        }
    }

    private static func fields(_ response: KRPCResponse) -> [(String, BencodeValue)] {
        var pairs: [(String, BencodeValue)] = [("id", .string(response.id.bytes))]
        if !response.nodes.isEmpty { pairs.append(("nodes", .string(Compact.encode(nodes: response.nodes)))) }
        if !response.nodes6.isEmpty { pairs.append(("nodes6", .string(Compact.encode(nodes: response.nodes6)))) }
        if !response.values.isEmpty { pairs.append(("values", .list(response.values.map { .string(Compact.address($0)) }))) }
        if let token = response.token { pairs.append(("token", .string(token))) }
        if response.interval != nil || response.num != nil || !response.samples.isEmpty {
            pairs.append(("samples", .string(response.samples.flatMap(\.bytes))))
        }
        if let interval = response.interval { pairs.append(("interval", .integer(Int64(interval)))) }
        if let num = response.num { pairs.append(("num", .integer(Int64(num)))) }
        if let port = response.port { pairs.append(("p", .integer(Int64(port)))) }
        return pairs
    }

    /// The reply to a message that could not be understood, when it had a transaction id.
    public static func errorReply(to error: DHTError, version: [UInt8]?) -> [UInt8]? {
        guard case .malformed(let t?, let field, let reason) = error else { return nil }
        return encode(KRPCMessage(transactionID: t, body: .error(code: KRPCErrorCode.protocolError,
                                                                  message: "\(field) \(reason)"), version: version))
    }
}
