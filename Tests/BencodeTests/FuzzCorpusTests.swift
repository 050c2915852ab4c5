import Bencode
import Foundation
import JSON
import Testing

/// Replays the libFuzzer corpus (scripts/fuzz) so inputs that once found new paths keep being
/// exercised by every test run: no trap, and decode → JSON → encode stays lossless.
@Suite struct FuzzCorpusTests {
    @Test func corpusDecodesWithoutTrapsAndRoundTrips() throws {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        let folder = url.appendingPathComponent("Fixtures/fuzz-corpus/metainfo").path
        let names = try FileManager.default.contentsOfDirectory(atPath: folder)
        #expect(names.count > 100)
        var decoded = 0
        for name in names {
            let bytes = [UInt8](FileManager.default.contents(atPath: folder + "/" + name) ?? Data())
            _ = try? BencodeDecoder(strictness: .strict).decode(bytes)
            guard let document = try? BencodeDecoder(strictness: .lenient).decode(bytes) else { continue }
            decoded += 1
            let exact = document.warnings.allSatisfy { !$0.message.contains("string length") && !$0.message.contains("trailing") }
            let text = JSONWriter().bytes(BencodeJSON.json(from: document.root))
            let back = try BencodeJSON.bencodeBytes(from: try JSONParser().parse(text))
            if exact { #expect(back == bytes, "\(name)") }
        }
        #expect(decoded > 0)
    }
}
