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
        .target(name: "Hashing", dependencies: ["CTTCrypto"]),
        .target(name: "JSON"),
        .target(name: "Bencode", dependencies: ["JSON"]),
        .target(name: "Metainfo", dependencies: ["Bencode", "Hashing"]),
        .target(name: "Net"),
        .target(name: "UTP", dependencies: ["Net"]),
        .target(name: "Tracker", dependencies: ["Metainfo", "Bencode", "Net", "JSON"]),
        .target(name: "PeerWire", dependencies: ["Metainfo", "Bencode"]),
        .target(name: "Storage", dependencies: ["Metainfo", "Hashing", "Bencode"]),
        .target(name: "Swarm", dependencies: ["Bencode", "Metainfo", "Hashing", "Net", "UTP", "PeerWire", "Storage", "Tracker"]),
        // `tt swarm`: every source of peers, every peer reached, the swarm summed up.
        .target(name: "Census", dependencies: ["Metainfo", "Net", "PeerWire", "Swarm", "Tracker", "UTP"]),
        .target(name: "TTCommands", dependencies: ["JSON", "Bencode", "Hashing", "Metainfo", "Net", "UTP", "Tracker", "PeerWire", "Storage", "Swarm", "Census"]),
        .executableTarget(name: "tt", dependencies: ["TTCommands"]),
        // Hashing throughput for scripts/bench (CPU time, like `openssl speed`).
        .executableTarget(name: "HashBench", dependencies: ["Hashing", "CTTCrypto"]),
        // libFuzzer entry point; see scripts/fuzz. Built normally it is a tiny corpus replayer.
        .executableTarget(name: "FuzzMetainfo", dependencies: ["Bencode", "Metainfo", "JSON"]),

        .testTarget(name: "HashingTests", dependencies: ["Hashing"]),
        .testTarget(name: "BencodeTests", dependencies: ["Bencode", "JSON"]),
        .testTarget(name: "MetainfoTests", dependencies: ["Metainfo", "Bencode", "Hashing"]),
        .testTarget(name: "TrackerTests", dependencies: ["Tracker", "Metainfo", "Bencode", "Net", "TestSupport"]),
        .testTarget(name: "PeerWireTests", dependencies: ["PeerWire", "Metainfo", "Net", "Bencode", "TestSupport"]),
        .testTarget(name: "NetTests", dependencies: ["Net"]),
        .testTarget(name: "UTPTests", dependencies: ["UTP", "Net", "JSON", "PeerWire", "Bencode", "TestSupport"]),
        .testTarget(name: "SwarmTests", dependencies: ["Swarm", "PeerWire", "Storage", "Metainfo", "Net", "Tracker", "Bencode", "JSON", "TestSupport"]),
        .testTarget(name: "StorageTests", dependencies: ["Storage", "Metainfo", "Hashing", "TestSupport"]),
        .testTarget(name: "CensusTests", dependencies: ["Census", "Metainfo", "PeerWire", "Net", "JSON", "TestSupport"]),
        .testTarget(name: "CommandTests", dependencies: ["TTCommands", "Metainfo", "Bencode", "JSON", "TestSupport"]),
        .testTarget(name: "InteropTests", dependencies: ["TTCommands", "Metainfo", "Bencode", "JSON", "TestSupport"]),
        .target(name: "TestSupport", dependencies: ["TTCommands", "Metainfo", "Bencode", "Hashing", "JSON", "Net", "PeerWire", "Tracker"], path: "Tests/TestSupport"),
    ]
)
