import Bencode
import Foundation
import Metainfo
import Testing

/// The rules of man/tt-info.1 "VALIDATION RULES", one fixture per defect (scripts/fixtures-rules.py).
@Suite struct ValidationRuleTests {
    static let ruleFixtures: [(String, MetainfoRule)] = [
        ("zero-length.torrent", .zeroLength),
        ("integer-negative-zero.torrent", .zeroLength),
        ("length-2-63-minus-1.torrent", .fileTooLarge),
        ("length-beyond-64-bits.torrent", .fileTooLarge),
        ("file-too-large-16tib.torrent", .fileTooLarge),
        ("file-offsets-beyond-limit.torrent", .fileTooLarge),
        ("too-many-pieces.torrent", .tooManyPieces),
        ("piece-length-1-gib.torrent", .pieceLength),
        ("zero-piece-length.torrent", .pieceLength),
        ("piece-count-mismatch.torrent", .pieceCount),
        ("pieces-not-multiple-of-20.torrent", .pieceCount),
        ("empty-name.torrent", .badName),
        ("name-dotdot.torrent", .badName),
        ("no-files.torrent", .noFiles),
        ("empty-path-list.torrent", .emptyPathList),
        ("v2-piece-length-not-power-of-two.torrent", .v2PieceLength),
        ("v2-piece-length-8k.torrent", .v2PieceLength),
        ("v2-missing-piece-layers.torrent", .missingPieceLayer),
        ("v2-piece-layer-short.torrent", .pieceLayerSize),
        ("v2-piece-layer-not-matching-root.torrent", .pieceLayerRoot),
        ("v2-piece-layer-for-unknown-root.torrent", .unknownPieceLayer),
        ("v2-pieces-root-all-zeros.torrent", .badPiecesRoot),
        ("v2-pieces-root-missing.torrent", .badPiecesRoot),
        ("v2-file-tree-unsorted.torrent", .unsortedFileTree),
        ("v2-file-tree-name-twice.torrent", .unsortedFileTree),
        ("hybrid-file-sizes-differ.torrent", .hybridMismatch),
        ("hybrid-file-names-differ.torrent", .hybridMismatch),
        ("duplicate-key-different-values.torrent", .duplicateKey),
        ("duplicate-top-level-announce.torrent", .duplicateKey),
        ("unsafe-path-dotdot.torrent", .unsafePath),
        ("unsafe-path-dot.torrent", .unsafePath),
        ("unsafe-path-absolute-name.torrent", .unsafePath),
        ("unsafe-path-absolute-component.torrent", .unsafePath),
        ("unsafe-path-empty-component.torrent", .unsafePath),
        ("unsafe-path-separator-in-component.torrent", .unsafePath),
        ("unsafe-path-backslash.torrent", .unsafePath),
        ("unsafe-path-name-backslash.torrent", .unsafePath),
        ("unsafe-path-nul.torrent", .unsafePath),
        ("unsafe-path-drive-letter.torrent", .unsafePath),
        ("duplicate-path.torrent", .duplicatePath),
        ("path-both-file-and-folder.torrent", .fileAndFolder),
        ("symlink-outside-torrent.torrent", .unsafeSymlink),
    ]

    @Test(arguments: ruleFixtures)
    func fixtureBreaksItsRule(name: String, rule: MetainfoRule) throws {
        let bytes = fixtureBytes("bad/\(name)")
        try #require(!bytes.isEmpty, "missing fixture \(name)")
        #expect(throws: MetainfoError.self, "\(name) loaded") { try Torrent(bytes: bytes) }
        do {
            _ = try Torrent(bytes: bytes)
        } catch {
            guard case .rejected(let problem) = error else { Issue.record("\(name): \(error) is not a rule"); return }
            #expect(problem.rule == rule, "\(name): \(problem.message)")
        }
        if rule.severity == .ambiguous {
            // Lenient: loaded, with the problem recorded and shown as a warning.
            let torrent = try Torrent(bytes: bytes, lenient: true)
            #expect(torrent.problems.map(\.rule).contains(rule))
            #expect(torrent.warnings.contains { $0.contains(rule.kind) })
        } else {
            #expect(throws: MetainfoError.self) { try Torrent(bytes: bytes, lenient: true) }
        }
    }

    @Test func everyRuleHasAFixtureAndAManPageRow() throws {
        #expect(Set(Self.ruleFixtures.map(\.1)) == Set(MetainfoRule.allCases))
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        let man = try String(contentsOf: url.appendingPathComponent("man/tt-info.1"), encoding: .utf8)
        for rule in MetainfoRule.allCases {
            #expect(man.contains(rule.kind.replacingOccurrences(of: "_", with: "\\(ul")) || man.contains(rule.kind), "tt-info.1 lacks \(rule.kind)")
        }
    }

    @Test func hugeLengthIsAnErrorNamingTheFieldNotATrap() {
        do {
            _ = try Torrent(bytes: fixtureBytes("bad/length-2-63-minus-1.torrent"))
            Issue.record("loaded")
        } catch {
            #expect(error.description.contains("info 'length' 9223372036854775807"), "\(error)")
        }
    }

    @Test func nonCanonicalLengthReadsAsLibtorrentReadsIt() throws {
        let torrent = try Torrent(bytes: fixtureBytes("bad/integer-leading-zero.torrent"))
        #expect(torrent.files[0].length == 7)
        #expect(torrent.warnings.contains { $0.contains("leading zero") })
    }
}

/// BEP 47 attributes and names that are not UTF-8 or carry escape sequences.
@Suite struct AttributeTests {
    @Test func padFileWithoutPathIsNamedAsLibtorrentNamesIt() throws {
        let torrent = try Torrent(bytes: fixtureBytes("good/bep47-pad-without-path.torrent"))
        #expect(torrent.files.map(\.isPadding) == [false, true, false])
        #expect(torrent.files[1].path == [".pad", "1"])
        #expect(torrent.contentLength == 16383 + 100)
        #expect(torrent.padLength == 1)
        #expect(torrent.files[2].offset == 16384)
    }

    @Test func legacyPaddingFileNameIsAPadFile() throws {
        let torrent = try Torrent(bytes: fixtureBytes("good/bep47-legacy-padding-file-name.torrent"))
        #expect(torrent.files.map(\.isPadding) == [false, true, false])
        #expect(torrent.contentLength == 16383 + 100)
    }

    @Test(arguments: ["good/bep47-symlink-without-length.torrent", "good/bep47-symlink-length-ignored.torrent"])
    func symlinksHoldNoBytes(name: String) throws {
        let torrent = try Torrent(bytes: fixtureBytes(name))
        #expect(torrent.files.map(\.length) == [5, 0, 7])
        #expect(torrent.files.map(\.offset) == [0, 5, 5])
        #expect(torrent.files[1].isSymlink && torrent.files[1].symlinkTarget == ["a"])
        #expect(torrent.pieceCount == 1)
    }

    @Test func executableAndHiddenAreRead() throws {
        let torrent = try Torrent(bytes: fixtureBytes("good/bep47-executable-and-hidden.torrent"))
        #expect(torrent.files.map(\.isExecutable) == [true, false, true])
        #expect(torrent.files.map(\.isHidden) == [false, true, true])
    }

    @Test func namesThatAreNotUTF8AreRepairedAndShownEscaped() throws {
        let torrent = try Torrent(bytes: fixtureBytes("good/name-not-utf8.torrent"))
        #expect(torrent.name == "d_")
        #expect(torrent.rawName == [0x64, 0xFF])
        #expect(torrent.terminalName == "d\\xff")
        #expect(torrent.files[0].path == ["caf_xt"])  // libtorrent's repair: one `_` per bad sequence
        #expect(torrent.files[0].terminalPath == "caf\\xe9.txt")
    }

    @Test func escapeSequencesInNamesNeverReachTheTerminal() throws {
        let torrent = try Torrent(bytes: fixtureBytes("good/name-with-ansi-escape.torrent"))
        #expect(torrent.name == "\u{1B}[1mbold")  // exact for JSON
        #expect(!torrent.terminalName.unicodeScalars.contains { $0.value < 0x20 })
        #expect(torrent.terminalName == "\\u{1B}[1mbold")
        #expect(torrent.files[1].terminalPath == "\\u{1B}]0;title\\u{7}")
        #expect(Torrent.diskComponent(torrent.files[0].path[0]) == "_[2J_[31mred")
    }
}

@Suite struct TerminalTextTests {
    static let cases: [([UInt8], String)] = [
        (Array("plain name.txt".utf8), "plain name.txt"),
        (Array("caf\u{E9} ✓".utf8), "caf\u{E9} ✓"),
        ([0x61, 0x1B, 0x5B, 0x33, 0x31, 0x6D, 0x62], "a\\u{1B}[31mb"),
        ([0x61, 0x00, 0x62], "a\\u{0}b"),
        (Array("a\nb\rc\td".utf8), "a\\nb\\rc\\td"),
        ([0x61, 0xC2, 0x9B, 0x32, 0x4A], "a\\u{9B}2J"),            // 8-bit CSI
        (Array("a\u{202E}gpj.exe".utf8), "a\\u{202E}gpj.exe"),     // right-to-left override
        ([0x61, 0xFF, 0xC3, 0x28], "a\\xff\\xc3("),                // invalid UTF-8
        ([0x7F], "\\u{7F}"),
    ]

    @Test(arguments: cases)
    func escapes(bytes: [UInt8], expected: String) {
        #expect(TerminalText.escape(bytes: bytes) == expected)
        if let text = String(validatingUTF8Bytes: bytes) { #expect(text.terminalSafe == expected) }
    }
}

/// Every fixture, mutated many ways (seeded, so reproducible): reading it may fail, never trap.
/// Integers are swapped for the values that break arithmetic (2^63−1, 2^62, −1, 0).
@Suite struct MutationTests {
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let extremes = ["9223372036854775807", "4611686018427387904", "17592186028031", "-1", "0", "16384", "1"]

    @Test func mutatedFixturesNeverTrap() throws {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        var rng = SplitMix(state: 47)
        var loaded = 0
        for folder in ["good", "bad"] {
            let names = try FileManager.default.contentsOfDirectory(atPath: url.appendingPathComponent("Fixtures/\(folder)").path)
            for name in names.sorted() where name.hasSuffix(".torrent") {
                let bytes = fixtureBytes("\(folder)/\(name)")
                guard bytes.count < 100_000 else { continue }
                // Where the integers are: `i` followed by digits.
                let integers = bytes.indices.filter { bytes[$0] == UInt8(ascii: "i") && $0 + 1 < bytes.count && (bytes[$0 + 1] == UInt8(ascii: "-") || (48...57).contains(bytes[$0 + 1])) }
                for _ in 0..<60 {
                    var mutated = bytes
                    if !integers.isEmpty && Bool.random(using: &rng) {
                        let start = integers.randomElement(using: &rng)! + 1
                        guard let end = mutated[start...].firstIndex(of: UInt8(ascii: "e")) else { continue }
                        mutated.replaceSubrange(start..<end, with: Array(Self.extremes.randomElement(using: &rng)!.utf8))
                    } else if !mutated.isEmpty {
                        for _ in 0..<Int.random(in: 1...3, using: &rng) {
                            mutated[Int.random(in: 0..<mutated.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                        }
                    }
                    guard let torrent = try? Torrent(bytes: mutated, lenient: true) else { continue }
                    loaded += 1
                    _ = torrent.terminalName
                    _ = torrent.files.map(\.terminalPath)
                    _ = (torrent.contentLength, torrent.padLength, torrent.layout.lastPieceLength)
                    for piece in torrent.layout.indices.suffix(2) { _ = (torrent.pieceHash(piece), torrent.layout.blockCount(of: piece)) }
                    _ = MagnetLink(torrent: torrent).link
                }
            }
        }
        #expect(loaded > 100, "too few mutants loaded (\(loaded)) for this to test anything")
    }

    /// A v1 multi-file torrent of one-byte files at `paths`, in that order.
    static func torrent(paths: [[String]]) -> [UInt8] {
        let files = paths.map { path in
            BencodeValue.dictionary([BencodeEntry("length", .integer(1)), BencodeEntry("path", .list(path.map { .string($0) }))])
        }
        let pieces = [UInt8](repeating: 0, count: 20 * ((paths.count + 15) / 16))
        let info = BencodeValue.dictionary([BencodeEntry("files", .list(files)), BencodeEntry("name", .string("root")),
                                            BencodeEntry("piece length", .integer(16384)), BencodeEntry("pieces", .string(pieces))])
        return BencodeValue.dictionary([BencodeEntry("info", info)]).encoded()
    }

    /// A file at a folder's path is found wherever the two stand in the list: folders are noted
    /// once per run of files that share them, and that must not lose one.
    @Test(arguments: [
        [["a", "x", "f"], ["b", "g"], ["a", "x"]],            // the folder, another folder, then the file
        [["a", "x", "f"], ["a", "y"], ["a", "x"]],            // the file after a sibling of the folder
        [["a", "x"], ["a", "x", "f"]],                        // the file first
        [["a", "x"], ["b"], ["c", "d"], ["a", "x", "y", "z"]],  // the file first, the folder deeper and later
    ])
    func fileAtAFolderPathIsFoundInAnyOrder(_ paths: [[String]]) throws {
        let bytes = Self.torrent(paths: paths)
        #expect(throws: MetainfoError.self) { try Torrent(bytes: bytes) }
        let torrent = try Torrent(bytes: bytes, lenient: true)
        #expect(torrent.problems.map(\.rule) == [.fileAndFolder])
    }

    @Test func foldersSharedByNeighboursAreNoProblem() throws {
        let paths = [["a", "x", "f"], ["a", "x", "g"], ["a", "y", "f"], ["b", "f"], ["a", "x", "h"], ["top"]]
        let torrent = try Torrent(bytes: Self.torrent(paths: paths))
        #expect(torrent.files.count == paths.count)
        #expect(torrent.problems.isEmpty)
    }
}
