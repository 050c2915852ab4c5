import Bencode
import JSON
import Testing

@Suite struct BencodeJSONTests {
    func json(_ text: String) throws -> String {
        let document = try BencodeDecoder(strictness: .lenient).decode(Array(text.utf8))
        return JSONWriter().string(BencodeJSON.json(from: document.root))
    }

    func roundTrip(_ bytes: [UInt8]) throws -> [UInt8] {
        let document = try BencodeDecoder(strictness: .lenient).decode(bytes)
        let text = JSONWriter(pretty: true).bytes(BencodeJSON.json(from: document.root))
        return try BencodeJSON.bencodeBytes(from: try JSONParser().parse(text))
    }

    @Test func plainValuesMapDirectly() throws {
        #expect(try json("d4:name5:hello4:sizei-12e4:tagsl1:a1:bee") == #"{"name":"hello","size":-12,"tags":["a","b"]}"#)
        #expect(try json("5:a\"b\\c") == #""a\"b\\c""#)
    }

    @Test func binaryAndOddValuesUseTags() throws {
        #expect(try json("3:\u{01}\u{02}\u{03}") == #""\u0001\u0002\u0003""#)  // valid UTF-8 control chars stay strings
        let binary = Array("2:".utf8) + [0xFF, 0x00]
        #expect(JSONWriter().string(BencodeJSON.json(from: try BencodeDecoder().decode(binary).root)) == #"{"$hex":"ff00"}"#)
        #expect(try json("i007e") == #"{"$int":"007"}"#)
        #expect(try json("d1:bi1e1:ai2ee") == #"{"$entries":[["b",1],["a",2]]}"#)
        #expect(try json("d4:$hex1:xe") == #"{"$dict":{"$hex":"x"}}"#)
    }

    @Test func roundTripsNonCanonicalInputExactly() throws {
        let inputs: [[UInt8]] = [
            Array("d1:bi1e1:ai2ee".utf8),
            Array("d1:ai1e1:ai2ee".utf8),
            Array("li007ei-0ee".utf8),
            Array("d4:$hex1:xe".utf8),
            Array("d5:$dictd4:$hex2:hiee".utf8),
            Array("d2:".utf8) + [0xFF, 0xFE] + Array("i1e1:a2:".utf8) + [0x80, 0x81] + Array("e".utf8),
            Array("i123456789012345678901234567890e".utf8),
        ]
        for input in inputs {
            #expect(try roundTrip(input) == input, "\(String(decoding: input, as: UTF8.self))")
        }
    }

    @Test func roundTripsRandomCanonicalValues() throws {
        var generator = SplitMix(seed: 99)
        for _ in 0..<300 {
            let bytes = randomValue(&generator, depth: 0).encoded()
            #expect(try roundTrip(bytes) == bytes)
        }
    }

    @Test func plainObjectsEncodeSorted() throws {
        let parsed = try JSONParser().parse(Array(#"{"z":1,"a":{"y":"é","b":[1,-2]}}"#.utf8))
        #expect(String(decoding: try BencodeJSON.bencodeBytes(from: parsed), as: UTF8.self) == "d1:ad1:bli1ei-2ee1:y2:ée1:zi1ee")
    }

    @Test func rejectsJSONWithNoBencodeForm() throws {
        for text in ["null", "true", "1.5", #"{"$hex":"zz"}"#, #"{"$wat":1}"#, #"{"$entries":[[1,2]]}"#, #"{"a":1,"a":2}"#] {
            let parsed = try JSONParser().parse(Array(text.utf8))
            #expect(throws: BencodeJSON.ConversionError.self, "\(text)") { try BencodeJSON.bencodeBytes(from: parsed) }
        }
    }
}

@Suite struct JSONParserTests {
    @Test func parsesIntegersExactly() throws {
        #expect(try JSONParser().parse(Array("9007199254740993".utf8)) == .int(9_007_199_254_740_993))
        #expect(try JSONParser().parse(Array("-9223372036854775808".utf8)) == .int(Int64.min))
    }

    @Test func parsesEscapesAndKeepsKeyOrder() throws {
        let value = try JSONParser().parse(Array(#" {"b": "\u00e9\ud83d\ude00\n", "a": [true, false, null]} "#.utf8))
        #expect(value == ["b": .string("é😀\n"), "a": .array([.bool(true), .bool(false), .null])])
    }

    @Test func rejectsMalformedJSONWithOffsets() {
        let cases: [(String, Int)] = [("{", 1), ("[1,]", 3), (#"{"a" 1}"#, 5), ("tru", 0), (#""\ud800""#, 7), ("1 2", 2)]
        for (text, offset) in cases {
            do {
                _ = try JSONParser().parse(Array(text.utf8))
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.offset == offset, "\(text): \(error)")
            }
        }
        let deep = String(repeating: "[", count: 10_000)
        #expect(throws: JSONParseError.self) { try JSONParser().parse(Array(deep.utf8)) }
    }

    @Test func writerEscapesControlCharacters() {
        #expect(JSONWriter().string(.string("a\u{0}b\u{1F}\"\\\t")) == #""a\u0000b\u001f\"\\\t""#)
        #expect(JSONWriter().string(["x": .double(1.5), "y": .double(2)]) == #"{"x":1.5,"y":2}"#)
    }
}

/// A large document is written in pieces as it is serialised (`tt info --json` of a big torrent):
/// the pieces put together are the document, and none holds much more than a piece's worth.
@Suite struct ChunkedJSONWriterTests {
    static func document() -> JSONValue {
        .object([
            JSONField("name", .string("many \"files\"\n")),
            JSONField("files", .array((0..<5000).map { index in
                .object([JSONField("index", .int(index)), JSONField("path", .array([.string("dir\(index % 7)"), .string("file-\(index).dat")])),
                         JSONField("size", .double(Double(index) * 1.5)), JSONField("padding", .bool(index % 2 == 0)), JSONField("root", .null)])
            })),
        ])
    }

    @Test(arguments: [false, true])
    func piecesMakeTheWholeDocument(pretty: Bool) {
        let writer = JSONWriter(pretty: pretty)
        let whole = writer.bytes(Self.document()) + [UInt8(ascii: "\n")]
        var pieces: [[UInt8]] = []
        writer.write(Self.document(), chunkSize: 4096) { pieces.append($0) }
        #expect(pieces.flatMap { $0 } == whole)
        #expect(pieces.count > whole.count / 8192)
        #expect(pieces.allSatisfy { $0.count < 4096 + 1024 })
    }

    @Test func aSmallDocumentIsOnePieceWithItsNewline() {
        var pieces: [[UInt8]] = []
        JSONWriter().write(.object([JSONField("event", .string("done"))])) { pieces.append($0) }
        #expect(pieces == [Array("{\"event\":\"done\"}\n".utf8)])
    }
}
