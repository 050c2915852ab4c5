import JSON
import Net

/// The one JSON shape of a peer (CONVENTIONS): `{"addr": "127.0.0.1:6881", "ip": …, "port": …}`,
/// with IPv6 written `[::1]:6881` — exactly what `handshake` and `--peer` accept.
enum PeerView {
    static func fields(ip: String, port: Int) -> [JSONField] {
        let addr = ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
        return [JSONField("addr", .string(addr)), JSONField("ip", .string(ip)), JSONField("port", .int(port))]
    }

    static func fields(_ address: SocketAddress) -> [JSONField] { fields(ip: address.ip, port: Int(address.port)) }

    static func json(_ address: SocketAddress) -> JSONValue { .object(fields(address)) }
}
