import JSON
import Net
import Swarm

/// The one JSON shape of a peer (README, "Output and exit codes"): `{"addr": "127.0.0.1:6881", "ip": …, "port": …}`,
/// with IPv6 written `[::1]:6881` — exactly what `handshake` and `--peer` accept.
enum PeerView {
    static func fields(ip: String, port: Int) -> [JSONField] {
        let addr = ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
        return [JSONField("addr", .string(addr)), JSONField("ip", .string(ip)), JSONField("port", .int(port))]
    }

    static func fields(_ address: SocketAddress) -> [JSONField] { fields(ip: address.ip, port: Int(address.port)) }

    /// How a peer is carried and where it came from (tt-download(1), peer events).
    static func fields(_ tag: PeerTag) -> [JSONField] {
        [JSONField("transport", .string(tag.transport.rawValue)),
         JSONField("encryption", .string(tag.encrypted ? "rc4" : "plaintext")),
         JSONField("source", .string(tag.source.rawValue))]
    }

    static func json(_ address: SocketAddress) -> JSONValue { .object(fields(address)) }
}
