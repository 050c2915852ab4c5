import FoundationEssentials
import Glibc
import Net

/// Keeps tests, benchmarks and demos on loopback: when `TT_DHT_LOOPBACK_ONLY` is set, or when the
/// process is a test bundle, the DHT never sends to (or resolves) anything but 127.0.0.0/8 and ::1.
public enum AddressGuard {
    public static let environmentVariable = "TT_DHT_LOOPBACK_ONLY"

    public static let loopbackOnly: Bool = {
        let environment = ProcessInfo.processInfo.environment
        if let value = environment[environmentVariable], value != "0", !value.isEmpty { return true }
        let program = CommandLine.arguments.first ?? ""
        return program.hasSuffix(".xctest") || program.contains("PackageTests") || environment["XCTestBundlePath"] != nil
    }()

    public static func isLoopback(_ address: SocketAddress) -> Bool {
        if address.family == .ipv4 { return address.ipBytes[0] == 127 }
        return address.ipBytes == [UInt8](repeating: 0, count: 15) + [1]
    }

    /// True when sending to `address` is allowed here.
    public static func allows(_ address: SocketAddress, loopbackOnly: Bool = AddressGuard.loopbackOnly) -> Bool {
        !loopbackOnly || isLoopback(address)
    }

    /// The well-known public routers, the default contacts of a node that knows no one.
    public static let publicRouters = ["router.bittorrent.com:6881", "dht.transmissionbt.com:6881",
                                       "router.utorrent.com:6881", "dht.libtorrent.org:25401"]
}
