// swift-tools-version:6.0
import PackageDescription
#if canImport(Glibc)
import Glibc
#endif

/// How `tt` itself is linked on Linux, for a small start-up footprint (README "Footprint";
/// `scripts/bench-startup` measures it, `scripts/startup-order` explains the order file):
/// - lld (shipped with the toolchain) instead of gold, for the options below;
/// - `--no-export-dynamic`: the Swift runtime's link file exports every public symbol of an
///   executable; nothing looks tt's symbols up, and the table was ~0.5 MiB read at each start;
/// - packed relative relocations (DT_RELR) where the C library reads them (glibc 2.36): ~41 000
///   relocations of Swift metadata were a 0.9 MiB table read at each start, now 8 KiB;
/// - libstdc++ and libgcc from their static archives (see `Sources/tt/link/static-libstdc++/libstdc++.so`);
/// - the code and data that `tt --version`, `info` and `decode` touch placed together
///   (`Sources/tt/link/tt-startup.order`, written by `scripts/startup-order`): a start maps ~4 MiB of the
///   binary instead of ~6 (the code it runs is ~0.4 MiB, scattered over 10 MiB before).
/// None of it changes what tt does, and ASLR stays (the binary is still position-independent).
let ttLinkerSettings: [LinkerSetting] = {
    let link = Context.packageDirectory + "/Sources/tt/link"
    var flags = [
        "-use-ld=lld",
        "-Xlinker", "--no-export-dynamic",
        "-L", link + "/static-libstdc++",
        "-Xclang-linker", "-static-libgcc",
        "-Xlinker", "--symbol-ordering-file=" + link + "/tt-startup.order",
        "-Xlinker", "--no-warn-symbol-ordering",  // the order names functions a debug build keeps apart
    ]
    if glibcHasRELR() { flags += ["-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"] }
    return [.unsafeFlags(flags, .when(platforms: [.linux]))]
}()

/// Whether the C library this package is built with reads DT_RELR (glibc 2.36 and later): lld
/// marks a binary with packed relocations as needing it, so an older one would refuse to start it.
func glibcHasRELR() -> Bool {
    #if canImport(Glibc)
    var buffer = [CChar](repeating: 0, count: 64)  // "glibc 2.36"
    guard confstr(Int32(_CS_GNU_LIBC_VERSION), &buffer, buffer.count) > 0 else { return false }
    let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    let version = text.split(separator: " ").last ?? ""
    let parts = version.split(separator: ".").compactMap { Int($0) }
    return parts.count >= 2 && (parts[0], parts[1]) >= (2, 36)
    #else
    return false
    #endif
}

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
        .executableTarget(name: "tt", dependencies: ["TTCommands"], exclude: ["link"], linkerSettings: ttLinkerSettings),
        // Hashing throughput for scripts/bench (CPU time, like `openssl speed`).
        .executableTarget(name: "HashBench", dependencies: ["Hashing", "CTTCrypto"]),
        // RC4 and DH-768 throughput for scripts/bench-mse (CPU time, like `openssl speed`).
        .executableTarget(name: "MSEBench", dependencies: ["MSE"]),
        // The properties each decoder family keeps on any input, and one libFuzzer entry point per
        // family (scripts/fuzz --list). Built normally, each executable replays a corpus.
        .target(name: "FuzzChecks", dependencies: ["Bencode", "JSON", "Metainfo", "PeerWire", "Tracker", "Storage", "UTP", "DHT"]),
        .executableTarget(name: "FuzzMetainfo", dependencies: ["FuzzChecks"]),
        .executableTarget(name: "FuzzPeerWire", dependencies: ["FuzzChecks"]),
        .executableTarget(name: "FuzzHTTPTracker", dependencies: ["FuzzChecks"]),
        .executableTarget(name: "FuzzUDPTracker", dependencies: ["FuzzChecks"]),
        .executableTarget(name: "FuzzTrackerServer", dependencies: ["FuzzChecks"]),
        .executableTarget(name: "FuzzResume", dependencies: ["FuzzChecks"]),
        .executableTarget(name: "FuzzUTP", dependencies: ["FuzzChecks"]),
        .executableTarget(name: "FuzzKRPC", dependencies: ["FuzzChecks"]),

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
