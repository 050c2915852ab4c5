import Bencode
import FoundationEssentials
import Glibc
import JSON
import Metainfo
import Net
import PeerWire
import UTP

/// JSON views of peer wire values (README, "Output and exit codes"), shared by handshake, fetch-piece and seed.
enum PeerWireViews {
    static func peer(_ address: SocketAddress) -> JSONValue { PeerView.json(address) }

    static func peerIDFields(_ id: PeerID) -> [JSONField] {
        [JSONField("peer_id", .string(id.hex)), JSONField("peer_id_text", .optional(id.text)),
         JSONField("client", .optional(id.client))]
    }

    static func reserved(_ bits: ReservedBits) -> JSONValue {
        var fields = [JSONField("hex", .string(bits.hex))]
        for flag in ReservedBits.known { fields.append(JSONField(flag.name, .bool(bits.contains(flag)))) }
        fields.append(JSONField("unknown_bits", .array(bits.unknownBits.map { .int($0) })))
        return .object(fields)
    }

    static func extensions(_ handshake: ExtensionHandshake) -> JSONValue {
        .object([
            JSONField("v", .optional(handshake.version)),
            JSONField("m", .object(handshake.messages.sorted { $0.key < $1.key }.map { JSONField($0.key, .int($0.value)) })),
            JSONField("p", .optional(handshake.listenPort)),
            JSONField("yourip", .optional(handshake.yourIPText)),
            JSONField("reqq", .optional(handshake.requestQueue)),
            JSONField("metadata_size", .optional(handshake.metadataSize)),
        ])
    }

    /// A message's fields for `--trace` (blocks and bitfields by size, not content).
    static func fields(_ message: PeerMessage) -> JSONValue {
        func block(_ request: BlockRequest) -> JSONValue {
            ["index": .int(Int64(request.index)), "begin": .int(Int64(request.begin)), "length": .int(Int64(request.length))]
        }
        switch message {
        case .keepAlive, .choke, .unchoke, .interested, .notInterested, .haveAll, .haveNone: return .object([])
        case .have(let piece), .suggest(let piece), .allowedFast(let piece): return ["index": .int(Int64(piece))]
        case .bitfield(let bytes):
            return ["bytes": .int(bytes.count), "pieces_set": .int(bytes.reduce(0) { $0 + $1.nonzeroBitCount })]
        case .request(let request), .cancel(let request), .reject(let request): return block(request)
        case .piece(let index, let begin, let data):
            return ["index": .int(Int64(index)), "begin": .int(Int64(begin)), "length": .int(data.count)]
        case .port(let port): return ["port": .int(Int(port))]
        case .extended(let id, let payload):
            if id == 0, let handshake = try? ExtensionHandshake(decoding: payload) {
                return ["ext_id": .int(0), "handshake": extensions(handshake)]
            }
            return ["ext_id": .int(Int(id)), "payload_length": .int(payload.count)]
        }
    }
}

/// Writes `--trace` JSON Lines: one event per message in either direction.
final class PeerTrace {
    let write: (JSONValue) -> Void
    let start: Double

    init(start: Double, write: @escaping (JSONValue) -> Void) {
        self.start = start
        self.write = write
    }

    var elapsed: Double { ((monotonicSeconds() - start) * 1e6).rounded() / 1e6 }

    func event(_ name: String, _ fields: [JSONField]) {
        write(.object([JSONField("event", .string(name)), JSONField("time", .double(elapsed))] + fields))
    }

    func message(_ direction: String, _ message: PeerMessage, length: Int) {
        write(.object([JSONField("event", .string("message")), JSONField("direction", .string(direction)),
                       JSONField("type", .string(message.name)), JSONField("length", .int(length)),
                       JSONField("time", .double(elapsed)), JSONField("fields", PeerWireViews.fields(message))]))
    }

    func handshake(_ direction: String, _ handshake: Handshake) {
        write(.object([JSONField("event", .string("message")), JSONField("direction", .string(direction)),
                       JSONField("type", .string("handshake")), JSONField("length", .int(Handshake.length)),
                       JSONField("time", .double(elapsed)),
                       JSONField("fields", .object([JSONField("info_hash", .string(Hex.encode(handshake.infoHash))),
                                                    JSONField("reserved", PeerWireViews.reserved(handshake.reserved))]
                                                   + PeerWireViews.peerIDFields(handshake.peerID)))]))
    }
}

extension PeerTrace {
    /// One uTP packet (`--trace` over uTP): type, connection id, seq, ack, window, delay (µs), sizes.
    func utp(_ record: UTPMultiplexer.TraceRecord) {
        let packet = record.packet
        var fields: [JSONField] = [
            JSONField("event", .string("utp")), JSONField("direction", .string(record.outgoing ? "out" : "in")),
            JSONField("time", .double(elapsed)), JSONField("peer", PeerWireViews.peer(record.peer)),
            JSONField("type", .string(packet.kind.name)), JSONField("connection_id", .int(Int(packet.connectionID))),
            JSONField("seq", .int(Int(packet.seq))), JSONField("ack", .int(Int(packet.ack))),
            JSONField("window", .int(Int(packet.window))), JSONField("delay", .int(Int(packet.timestampDifference))),
            JSONField("payload", .int(packet.payload.count)),
        ]
        if let mask = packet.selectiveAck { fields.append(JSONField("selective_ack", .string(Hex.encode(mask)))) }
        write(.object(fields))
    }
}
