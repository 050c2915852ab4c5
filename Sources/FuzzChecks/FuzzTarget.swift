import Foundation

/// A property a fuzz input broke: the fuzzer turns it into a crash, the corpus tests into a failure.
public struct FuzzViolation: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// One libFuzzer target: a decoder family, the properties it must keep on any input, and
/// seed inputs made by the family's encoders (`scripts/fuzz --list` names them).
public struct FuzzTarget: Sendable {
    public let name: String
    public let summary: String
    public let exercise: @Sendable ([UInt8]) throws -> Void
    public let seeds: @Sendable () -> [[UInt8]]

    public static let all: [FuzzTarget] = [.metainfo, .peerWire, .httpTracker, .udpTracker, .trackerServer, .resume, .utp, .krpc]

    public static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }
}

/// The two ways a target runs: under libFuzzer, or as a plain executable replaying files.
public enum FuzzHarness {
    /// The body of `LLVMFuzzerTestOneInput`: a broken property is a crash libFuzzer records.
    public static func run(_ target: FuzzTarget, _ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
        do {
            try target.exercise(Array(UnsafeBufferPointer(start: data, count: size)))
        } catch {
            fatalError("fuzz target \(target.name): \(error)")
        }
        return 0
    }

    /// Without libFuzzer: `--write-seeds DIR` writes the seed inputs; other arguments are corpus
    /// files or folders to replay. Exits 1 on the first broken property.
    public static func replay(_ target: FuzzTarget, arguments: [String] = Array(CommandLine.arguments.dropFirst())) {
        if arguments.first == "--write-seeds", arguments.count == 2 {
            let folder = arguments[1]
            try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for (index, seed) in target.seeds().enumerated() {
                _ = FileManager.default.createFile(atPath: "\(folder)/seed-\(index)", contents: Data(seed))
            }
            print("wrote \(target.seeds().count) seeds for \(target.name) to \(folder)")
            return
        }
        var count = 0
        for path in arguments {
            for file in corpusFiles(path) {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                do { try target.exercise([UInt8](data)) } catch {
                    FileHandle.standardError.write(Data("\(file): \(error)\n".utf8))
                    exit(1)
                }
                count += 1
            }
        }
        print("replayed \(count) inputs through \(target.name)")
    }

    /// The files of a corpus folder (sorted), or the path itself when it is a file.
    public static func corpusFiles(_ path: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return [] }
        guard isDirectory.boolValue else { return [path] }
        return ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { "\(path)/\($0)" }
    }
}

/// Ways to cut one input into the chunks a socket might deliver: a decoder fed any of them
/// must answer as it does to the whole input.
enum Chunkings {
    /// Whole, byte by byte (inputs up to `byteByByteLimit` bytes), and cut at sizes taken from
    /// `sizes` (cycled; 0 is read as 1). Longer inputs skip the byte-by-byte feed: it costs one
    /// call per byte and made the network targets ~4× slower, while the fuzzer still reaches every
    /// split through `sizes` and short inputs (the tests' verifier feeds every case byte by byte).
    static func all(_ count: Int, sizes: [UInt8]) -> [[Int]] {
        var result: [[Int]] = [[count]]
        if count <= byteByByteLimit { result.append(Array(repeating: 1, count: count)) }
        if !sizes.isEmpty {
            var cuts: [Int] = []
            var left = count
            var index = 0
            while left > 0 {
                let size = min(left, max(1, Int(sizes[index % sizes.count])))
                cuts.append(size)
                left -= size
                index += 1
            }
            result.append(cuts)
        }
        return result
    }

    static let byteByByteLimit = 256

    static func split(_ bytes: [UInt8], _ sizes: [Int]) -> [ArraySlice<UInt8>] {
        var out: [ArraySlice<UInt8>] = []
        var start = 0
        for size in sizes {
            out.append(bytes[start..<(start + size)])
            start += size
        }
        return out
    }
}

/// The case of an error without its payload: how much of a stream an error quotes may
/// depend on how the stream was cut, which case it is may not.
func errorKind(_ error: Error) -> String {
    Mirror(reflecting: error).children.first?.label ?? String(describing: error)
}
