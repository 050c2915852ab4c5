import Bencode
import Foundation
import JSON
import Metainfo

/// Runs one input through every parser a hostile .torrent reaches: bencode (strict and
/// lenient), the JSON mapping both ways, and the metainfo model.
func exercise(_ bytes: [UInt8]) {
    _ = try? BencodeDecoder(strictness: .strict).decode(bytes)
    if let document = try? BencodeDecoder(strictness: .lenient, recordsSpans: true).decode(bytes) {
        let json = BencodeJSON.json(from: document.root)
        let text = JSONWriter().bytes(json)
        if let parsed = try? JSONParser().parse(text), let back = try? BencodeJSON.bencodeBytes(from: parsed) {
            // Lossless: anything without leading-zero string lengths must round-trip exactly.
            // (Trailing bytes are not part of the value, and a leading-zero string length is normalised.)
            let exact = document.warnings.allSatisfy { !$0.message.contains("string length") && !$0.message.contains("trailing") }
            if exact, back != bytes {
                fatalError("decode → encode changed the bytes")
            }
        }
    }
    if let torrent = try? Torrent(bytes: bytes) {
        _ = MagnetLink(torrent: torrent).link
        for piece in torrent.layout.indices.prefix(4) { _ = torrent.pieceHash(piece) }
    }
    _ = try? JSONParser().parse(bytes)
    if let text = String(validatingUTF8Bytes: bytes) { _ = try? MagnetLink(parsing: text) }
}

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    exercise(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
#else
/// Without libFuzzer: replays corpus files given as arguments (regression runs).
@main
struct Replay {
    static func main() {
        var count = 0
        for path in CommandLine.arguments.dropFirst() {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            let files = isDirectory.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).map { path + "/" + $0 }
                : [path]
            for file in files {
                if let data = FileManager.default.contents(atPath: file) { exercise([UInt8](data)); count += 1 }
            }
        }
        print("replayed \(count) inputs")
    }
}
#endif
