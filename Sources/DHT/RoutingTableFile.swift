import Bencode
import FoundationEssentials
import Glibc
import Metainfo
import Net

/// The routing table on disk, so a second run starts warm: `$XDG_STATE_HOME/tt/dht.dat`
/// (default `~/.local/state/tt/dht.dat`), a bencoded dictionary `{id, nodes, nodes6}` in the
/// compact forms of BEP 5 and BEP 32, written atomically (temporary file, fsync, rename).
public enum RoutingTableFile {
    public struct Contents: Sendable, Equatable {
        public var id: NodeID
        public var nodes: [NodeInfo]
        public init(id: NodeID, nodes: [NodeInfo]) {
            self.id = id
            self.nodes = nodes
        }
    }

    public static let maxNodes = 2_000

    public static func defaultPath(environment: [String: String]) -> String {
        let base: String
        if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") {
            base = state
        } else {
            base = (environment["HOME"] ?? getpwuid(getuid())?.pointee.pw_dir.map { String(cString: $0) } ?? "/") + "/.local/state"
        }
        return base + "/tt/dht.dat"
    }

    public static func encode(_ contents: Contents) -> [UInt8] {
        let v4 = contents.nodes.filter { $0.address.family == .ipv4 }.prefix(maxNodes)
        let v6 = contents.nodes.filter { $0.address.family == .ipv6 }.prefix(maxNodes)
        return BencodeValue.dict([("id", .string(contents.id.bytes)), ("nodes", .string(Compact.encode(nodes: Array(v4)))),
                                  ("nodes6", .string(Compact.encode(nodes: Array(v6))))]).encoded()
    }

    public static func decode(_ bytes: [UInt8], path: String) throws(DHTError) -> Contents {
        let root: BencodeValue
        do { root = try BencodeDecoder(strictness: .lenient, maxDepth: 4).decode(bytes).root } catch {
            throw .stateFile(path: path, reason: "not bencode: \(error)")
        }
        guard let id = root["id"]?.bytesValue.flatMap({ NodeID($0) }) else { throw .stateFile(path: path, reason: "no 20-byte id") }
        let v4 = Compact.nodes(root["nodes"]?.bytesValue ?? [], ipLength: 4, limit: maxNodes)
        let v6 = Compact.nodes(root["nodes6"]?.bytesValue ?? [], ipLength: 16, limit: maxNodes)
        return Contents(id: id, nodes: v4 + v6)
    }

    /// Nil when there is no file yet.
    public static func load(_ path: String) throws(DHTError) -> Contents? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try decode([UInt8](data), path: path)
    }

    /// Saves `contents`, keeping the other address family's nodes already in the file.
    public static func save(_ contents: Contents, to path: String) throws(DHTError) {
        var merged = contents
        if let old = try? load(path) {
            let families = Set(contents.nodes.map(\.address.family))
            merged.nodes += old.nodes.filter { !families.contains($0.address.family) }
        }
        let bytes = encode(merged)
        let directory = PathName.deletingLast(path)
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw .stateFile(path: directory, reason: "cannot create: \(fileErrorReason(error))")
        }
        let temporary = path + ".tmp.\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .stateFile(path: temporary, reason: String(cString: strerror(errno))) }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == bytes.count, synced, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw .stateFile(path: path, reason: "cannot write: \(reason)")
        }
    }
}
