import Foundation
import FuzzChecks
import Testing

/// Replays every fuzz target's corpus (`Fixtures/fuzz-corpus/TARGET/`, inputs that once found
/// new paths or broke a property) and its seeds: no trap, and every property holds.
@Suite struct FuzzCorpusReplayTests {
    static let corpusRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("Fixtures/fuzz-corpus").path
    }()

    @Test(arguments: FuzzTarget.all.map(\.name))
    func corpusKeepsEveryProperty(target name: String) throws {
        let target = try #require(FuzzTarget.named(name))
        let files = FuzzHarness.corpusFiles("\(Self.corpusRoot)/\(name)")
        #expect(files.count >= 20, "the \(name) corpus has \(files.count) inputs; scripts/fuzz grows it")
        for file in files {
            let bytes = [UInt8](FileManager.default.contents(atPath: file) ?? Data())
            #expect(throws: Never.self, "\(file)") { try target.exercise(bytes) }
        }
        for seed in target.seeds() {
            #expect(throws: Never.self) { try target.exercise(seed) }
        }
    }

    @Test func everyTargetHasACorpusFolder() throws {
        let folders = try FileManager.default.contentsOfDirectory(atPath: Self.corpusRoot).sorted()
        #expect(folders == FuzzTarget.all.map(\.name).sorted())
    }
}
