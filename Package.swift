// swift-tools-version:6.0
import PackageDescription

// One module per protocol stage; imports only point down this list (see README "Layout").
let package = Package(
    name: "tt",
    products: [
        .executable(name: "tt", targets: ["tt"]),
    ],
    dependencies: [],
    targets: [
        .target(name: "CTTCrypto", cSettings: [.unsafeFlags(["-O3"])]),
        .target(name: "CTTCipher", cSettings: [.unsafeFlags(["-O3"])]),
        .target(name: "Hashing", dependencies: ["CTTCrypto"]),
        .target(name: "JSON"),
        .target(name: "Bencode", dependencies: ["JSON"]),
        .target(name: "Metainfo", dependencies: ["Bencode", "Hashing"]),
        // System calls the Glibc module lacks (GNU extensions): recvmmsg/sendmmsg batches for uTP,
        // the DHT and the UDP tracker, preadv2 with RWF_NOWAIT for uploads from the page cache.
        .target(name: "CTTNet", cSettings: [.unsafeFlags(["-O2"])]),
        .target(name: "Net", dependencies: ["CTTNet"]),
        .target(name: "UTP", dependencies: ["Net"]),
        .target(name: "MSE", dependencies: ["CTTCipher", "Hashing", "Net"]),
        // TLS for https:// trackers: the system's libssl, loaded at first use (no link-time TLS library).
        .target(name: "CTLS", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "Tracker", dependencies: ["Metainfo", "Bencode", "Net", "JSON", "CTLS"]),
        .target(name: "PeerWire", dependencies: ["Metainfo", "Bencode"]),
        .target(name: "Storage", dependencies: ["Metainfo", "Hashing", "Bencode", "CTTNet"]),
        .target(name: "WebSeed", dependencies: ["Metainfo", "Hashing", "Net", "Storage", "Tracker"]),
        .target(name: "Swarm", dependencies: ["CTTNet", "Bencode", "Metainfo", "Hashing", "Net", "UTP", "PeerWire", "Storage", "Tracker", "WebSeed"]),
        .target(name: "DHT", dependencies: ["Bencode", "Metainfo", "Hashing", "Net", "JSON"]),
        .target(name: "TTCommands", dependencies: ["DHT", "JSON", "Bencode", "Hashing", "Metainfo", "Net", "UTP", "Tracker", "PeerWire", "Storage", "Swarm", "WebSeed", "MSE", "Census"]),
        .target(name: "Census", dependencies: ["Metainfo", "Net", "PeerWire", "Swarm", "Tracker", "UTP"]),
        .executableTarget(name: "tt", dependencies: ["TTCommands"]),
        // Hashing throughput for scripts/bench (CPU time, like `openssl speed`).
        .executableTarget(name: "HashBench", dependencies: ["Hashing", "CTTCrypto"]),
        // RC4 and DH-768 throughput for scripts/bench-mse (CPU time, like `openssl speed`).
        .executableTarget(name: "MSEBench", dependencies: ["MSE"]),
        // The properties each decoder family keeps on any input, and one libFuzzer entry point per
        // family (scripts/fuzz --list). Built normally, each executable replays a corpus.
        .target(name: "FuzzChecks", dependencies: ["Bencode", "JSON", "Metainfo", "PeerWire", "Tracker", "Storage"]),
        .executableTarget(name: "FuzzMetainfo", dependencies: ["FuzzChecks"]),
        .executableTarget(name: "FuzzPeerWire", dependencies: ["FuzzChecks"]),
        .executableTarget(name: "FuzzHTTPTracker", dependencies: ["FuzzChecks"]),
        .executableTarget(name: "FuzzUDPTracker", dependencies: ["FuzzChecks"]),
        .executableTarget(name: "FuzzTrackerServer", dependencies: ["FuzzChecks"]),
        .executableTarget(name: "FuzzResume", dependencies: ["FuzzChecks"]),

        .testTarget(name: "HashingTests", dependencies: ["Hashing"]),
        .testTarget(name: "BencodeTests", dependencies: ["Bencode", "JSON"]),
        .testTarget(name: "MetainfoTests", dependencies: ["Metainfo", "Bencode", "Hashing"]),
        .testTarget(name: "TrackerTests", dependencies: ["Tracker", "Metainfo", "Bencode", "Net", "TestSupport"]),
        .testTarget(name: "PeerWireTests", dependencies: ["PeerWire", "Metainfo", "Net", "Bencode", "JSON", "TestSupport"]),
        .testTarget(name: "MSETests", dependencies: ["MSE", "CTTCipher", "Hashing", "Net", "Metainfo", "JSON", "TestSupport"]),
        .testTarget(name: "NetTests", dependencies: ["Net", "TestSupport"]),
        .testTarget(name: "UTPTests", dependencies: ["UTP", "Net", "JSON", "PeerWire", "Bencode", "Swarm", "TestSupport"]),
        .testTarget(name: "SwarmTests", dependencies: ["Swarm", "PeerWire", "Storage", "Metainfo", "Net", "Tracker", "Bencode", "JSON", "TestSupport"]),
        .testTarget(name: "StorageTests", dependencies: ["Storage", "Metainfo", "Hashing", "TestSupport"]),
        .testTarget(name: "WebSeedTests", dependencies: ["WebSeed", "Metainfo", "Storage", "TestSupport"]),
        .testTarget(name: "DHTTests", dependencies: ["DHT", "Bencode", "Net", "JSON", "Metainfo", "TTCommands", "TestSupport"]),
        .testTarget(name: "CensusTests", dependencies: ["Census", "Metainfo", "PeerWire", "Net", "JSON", "TestSupport"]),
        .testTarget(name: "CommandTests", dependencies: ["TTCommands", "Metainfo", "Bencode", "JSON", "TestSupport"]),
        .testTarget(name: "FuzzTests", dependencies: ["FuzzChecks"]),
        .testTarget(name: "InteropTests", dependencies: ["TTCommands", "Metainfo", "Bencode", "JSON", "TestSupport"]),
        .target(name: "TestSupport", dependencies: ["TTCommands", "Metainfo", "Bencode", "Hashing", "JSON", "Net", "PeerWire", "Tracker"], path: "Tests/TestSupport"),
    ]
)
