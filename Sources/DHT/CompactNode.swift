import Net

/// A DHT node as other nodes name it: id and UDP address.
public struct NodeInfo: Hashable, Sendable {
    public var id: NodeID
    public var address: SocketAddress

    public init(id: NodeID, address: SocketAddress) {
        self.id = id
        self.address = address
    }
}

/// The compact encodings of BEP 5 (IPv4: 26-byte nodes, 6-byte peers) and BEP 32 (IPv6: 38, 18).
public enum Compact {
    /// Decodes a `nodes` (4-byte IPs) or `nodes6` (16-byte IPs) string. A trailing partial entry is
    /// ignored; at most `limit` entries are read, so a huge string costs nothing beyond its bytes.
    public static func nodes(_ bytes: [UInt8], ipLength: Int, limit: Int = 64) -> [NodeInfo] {
        let size = 20 + ipLength + 2
        var nodes: [NodeInfo] = []
        var offset = 0
        while offset + size <= bytes.count, nodes.count < limit {
            let id = NodeID(slice: bytes[offset..<offset + 20])!
            let ip = Array(bytes[offset + 20..<offset + 20 + ipLength])
            let port = UInt16(bytes[offset + size - 2]) << 8 | UInt16(bytes[offset + size - 1])
            offset += size
            guard port != 0, let address = SocketAddress(ipBytes: ip, port: port) else { continue }
            nodes.append(NodeInfo(id: id, address: address))
        }
        return nodes
    }

    public static func encode(nodes: [NodeInfo]) -> [UInt8] {
        var out: [UInt8] = []
        for node in nodes {
            out += node.id.bytes
            out += address(node.address)
        }
        return out
    }

    /// 6 or 18 bytes: IP then big-endian port.
    public static func address(_ address: SocketAddress) -> [UInt8] {
        address.ipBytes + [UInt8(address.port >> 8), UInt8(address.port & 0xff)]
    }

    /// A compact peer or `ip` field (6 or 18 bytes), or nil for any other length.
    public static func address(_ bytes: [UInt8]) -> SocketAddress? {
        guard bytes.count == 6 || bytes.count == 18 else { return nil }
        let port = UInt16(bytes[bytes.count - 2]) << 8 | UInt16(bytes[bytes.count - 1])
        return SocketAddress(ipBytes: Array(bytes.prefix(bytes.count - 2)), port: port)
    }
}
