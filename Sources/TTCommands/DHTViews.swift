import Bencode
import DHT
import JSON
import Net

/// JSON shapes of the DHT (tt-dht(1)): a node is `{"id", "addr", "ip", "port"}` plus `"version"`
/// when known; distances are XOR as 40 hex; KRPC traces are `"event": "krpc"` lines.
enum DHTViews {
    static func node(_ node: NodeInfo, version: [UInt8]? = nil, distanceTo target: NodeID? = nil) -> JSONValue {
        var fields = [JSONField("id", .string(node.id.hex))] + PeerView.fields(node.address)
        if let version { fields.append(JSONField("version", .string(ClientVersion.describe(version)))) }
        if let target { fields.append(JSONField("distance", .string(node.id.distance(to: target).hex))) }
        return .object(fields)
    }

    static func peer(_ address: SocketAddress, from node: NodeInfo?) -> JSONValue {
        var fields = PeerView.fields(address) + [JSONField("source", .string("dht"))]
        if let node { fields.append(JSONField("from", self.node(node))) }
        return .object(fields)
    }

    static func seconds(_ value: Double) -> JSONValue { .double((value * 1e6).rounded() / 1e6) }

    /// The decoded arguments of a query or the fields of a response, for traces and logs.
    static func arguments(_ message: KRPCMessage) -> [JSONField] {
        switch message.body {
        case .query(let query):
            var fields: [JSONField] = []
            if let id = query.senderID { fields.append(JSONField("id", .string(id.hex))) }
            switch query {
            case .findNode(_, let target, _), .sampleInfohashes(_, let target):
                fields.append(JSONField("target", .string(target.hex)))
            case .getPeers(_, let hash, _):
                fields.append(JSONField("info_hash", .string(hash.hex)))
            case .announcePeer(_, let hash, let port, let token, let implied, let seed):
                fields += [JSONField("info_hash", .string(hash.hex)), JSONField("port", .int(Int(port))),
                           JSONField("token", .string(Hex.encode(token))), JSONField("implied_port", .bool(implied)),
                           JSONField("seed", .bool(seed))]
            default:
                break
            }
            return fields
        case .response(let response):
            var fields = [JSONField("id", .string(response.id.hex))]
            if !response.nodes.isEmpty || !response.nodes6.isEmpty {
                fields.append(JSONField("nodes", .array(response.allNodes.map { node($0) })))
            }
            if !response.values.isEmpty { fields.append(JSONField("values", .array(response.values.map(PeerView.json)))) }
            if let token = response.token { fields.append(JSONField("token", .string(Hex.encode(token)))) }
            if response.num != nil || !response.samples.isEmpty {
                fields.append(JSONField("samples", .array(response.samples.map { .string($0.hex) })))
                fields.append(JSONField("num", .optional(response.num)))
                fields.append(JSONField("interval", .optional(response.interval)))
            }
            return fields
        case .error(let code, let text):
            return [JSONField("code", .int(code)), JSONField("message", .string(text))]
        }
    }

    static func trace(_ event: DHTNode.TraceEvent, time: Double) -> JSONValue {
        let message = event.message
        var fields: [JSONField] = [
            JSONField("event", .string("krpc")), JSONField("time", seconds(time)),
            JSONField("direction", .string(event.outgoing ? "out" : "in")), JSONField("addr", .string(event.address.description)),
            JSONField("y", .string(message.y)),
        ]
        if case .query(let query) = message.body {
            fields.append(JSONField("q", .string(query.method)))
        } else if let method = event.answers {
            fields.append(JSONField("q", .string(method)))  // the query this answers, for jq filters
        }
        fields.append(JSONField("t", .string(Hex.encode(message.transactionID))))
        if let version = message.version { fields.append(JSONField("v", .string(ClientVersion.describe(version)))) }
        if let observed = message.observedAddress { fields.append(JSONField("ip", .string(observed.description))) }
        if message.readOnly { fields.append(JSONField("ro", .bool(true))) }
        fields.append(JSONField(message.y == "q" ? "a" : message.y == "r" ? "r" : "e", .object(arguments(message))))
        return .object(fields)
    }
}
