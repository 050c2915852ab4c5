import Bencode
import Testing

@Suite struct BencodeDecoderTests {
    func decode(_ text: String, _ strictness: BencodeDecoder.Strictness = .strict) throws -> BencodeValue {
        try BencodeDecoder(strictness: strictness).decode(Array(text.utf8)).root
    }

    func error(_ text: String, _ strictness: BencodeDecoder.Strictness = .strict) -> BencodeError? {
        do { _ = try BencodeDecoder(strictness: strictness).decode(Array(text.utf8)); return nil } catch { return error }
    }

    @Test func decodesEveryKind() throws {
        #expect(try decode("i42e") == .integer(42))
        #expect(try decode("i-7e") == .integer(-7))
        #expect(try decode("i0e") == .integer(0))
        #expect(try decode("4:spam") == .string("spam"))
        #expect(try decode("0:") == .string([]))
        #expect(try decode("l4:spami3ee") == .list([.string("spam"), .integer(3)]))
        #expect(try decode("d3:cow3:moo4:spaml1:a1:bee") == .dict([("cow", .string("moo")), ("spam", .list([.string("a"), .string("b")]))]))
        #expect(try decode("de") == .dictionary([]))
        #expect(try decode("i9223372036854775807e") == .integer(Int64.max))
    }

    @Test func reportsOffsetsOfErrors() {
        #expect(error("") == BencodeError(offset: 0, reason: .unexpectedEnd(expected: "a value")))
        #expect(error("l4:spam")?.offset == 7)
        #expect(error("d3:fooi1e")?.offset == 9)
        #expect(error("d3:fooi1e3:zzz")?.offset == 14)
        #expect(error("x")?.description == "offset 0: expected 'i', 'l', 'd' or a string length, found 'x'")
        #expect(error("i12")?.offset == 3)
        #expect(error("i1x2e")?.offset == 2)
        #expect(error("ie")?.reason == .invalidInteger("no digits"))
        #expect(error("i-e")?.reason == .invalidInteger("no digits"))
        #expect(error("di1ei2ee")?.offset == 1)  // integer key
    }

    @Test func checksStringLengthsBeforeAllocating() {
        #expect(error("10:abc") == BencodeError(offset: 0, reason: .stringTooLong(length: 10, available: 3)))
        // A length that overflows Int is an error, not a trap.
        #expect(error("99999999999999999999999999:x") != nil)
        #expect(error("4294967296:x") == BencodeError(offset: 0, reason: .stringTooLong(length: 4_294_967_296, available: 1)))
    }

    @Test func limitsNestingWithoutStackOverflow() {
        let deep = String(repeating: "l", count: 100_000) + String(repeating: "e", count: 100_000)
        #expect(error(deep)?.reason == .depthLimit(256))
        let ok = String(repeating: "l", count: 200) + String(repeating: "e", count: 200)
        #expect(error(ok) == nil)
        let deepDicts = String(repeating: "d1:a", count: 300) + "i1e" + String(repeating: "e", count: 300)
        #expect(error(deepDicts)?.reason == .depthLimit(256))
    }

    @Test func enforcesSizeLimit() {
        let decoder = BencodeDecoder(maxSize: 8)
        #expect(throws: BencodeError(offset: 0, reason: .sizeLimit(8))) { try decoder.decode(Array("l1:a1:b1:ce".utf8)) }
    }

    @Test func nonCanonicalIsAnErrorWhenStrictAndAWarningWhenLenient() throws {
        let cases: [(String, String)] = [
            ("i007e", "leading zero"),
            ("i-0e", "negative zero"),
            ("d1:bi1e1:ai2ee", "out of order"),
            ("d1:ai1e1:ai2ee", "duplicate key"),
            ("i1eXYZ", "trailing"),
            ("03:abc", "leading zero"),
        ]
        for (input, fragment) in cases {
            let strict = error(input)
            #expect(strict != nil, "strict should reject \(input)")
            let document = try BencodeDecoder(strictness: .lenient).decode(Array(input.utf8))
            #expect(document.warnings.count == 1, "\(input)")
            #expect(document.warnings.first?.message.contains(fragment) == true, "\(input): \(document.warnings)")
        }
        #expect(try decode("i007e", .lenient) == .rawInteger("007"))
        #expect(try decode("i-0e", .lenient) == .rawInteger("-0"))
        #expect(try decode("i123456789012345678901234567890e", .strict) == .rawInteger("123456789012345678901234567890"))
    }

    @Test func recordsSpansOfTopLevelValuesAndEveryValue() throws {
        let text = "d1:ai1e4:infod1:xi2ee1:zl0:ee"
        let bytes = Array(text.utf8)
        let document = try BencodeDecoder(recordsSpans: true).decode(bytes)
        let info = try #require(document.span(ofTopLevelKey: "info"))
        #expect(String(decoding: bytes[info], as: UTF8.self) == "d1:xi2ee")
        #expect(document.spans.first == 0..<bytes.count)
        #expect(document.spans.count == 6)  // root, i1e, info dict, i2e, list, empty string
        #expect(String(decoding: bytes[document.spans[4]], as: UTF8.self) == "l0:e")
    }

    @Test func decodesPrefixOfAStream() throws {
        let bytes = Array("d8:msg_typei1e5:piecei0eeRAWDATA".utf8)
        let (value, length) = try BencodeDecoder().decodePrefix(bytes[...])
        #expect(value["piece"] == .integer(0))
        #expect(length == bytes.count - 7)
    }
}

@Suite struct BencodeEncoderTests {
    @Test func encodesCanonically() {
        let value = BencodeValue.dict([("zeta", .integer(-3)), ("alpha", .list([.string("x"), .integer(0)])), ("mid", .dictionary([]))])
        #expect(String(decoding: value.encoded(), as: UTF8.self) == "d5:alphal1:xi0ee3:midde4:zetai-3ee")
    }

    @Test func sortsKeysAsRawBytesNotAsText() {
        let value = BencodeValue.dictionary([BencodeEntry(key: [0xC3, 0xA9], value: .integer(1)), BencodeEntry(key: [0x7A], value: .integer(2))])
        #expect(value.encoded() == Array("d1:zi2e2:".utf8) + [0xC3, 0xA9] + Array("i1ee".utf8))
    }

    @Test func roundTripsRandomValues() throws {
        var generator = SplitMix(seed: 7)
        for _ in 0..<300 {
            let value = randomValue(&generator, depth: 0)
            let bytes = value.encoded()
            let decoded = try BencodeDecoder().decode(bytes).root
            #expect(decoded.encoded() == bytes)
        }
    }
}

/// Small deterministic generator for property tests.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
}

func randomValue(_ generator: inout SplitMix, depth: Int) -> BencodeValue {
    switch Int.random(in: 0..<(depth > 3 ? 2 : 4), using: &generator) {
    case 0: return .integer(Int64.random(in: Int64.min...Int64.max, using: &generator) >> Int64.random(in: 0...63, using: &generator))
    case 1: return .string((0..<Int.random(in: 0..<20, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) })
    case 2: return .list((0..<Int.random(in: 0..<5, using: &generator)).map { _ in randomValue(&generator, depth: depth + 1) })
    default:
        var keys = Set<[UInt8]>()
        for _ in 0..<Int.random(in: 0..<5, using: &generator) {
            keys.insert((0..<Int.random(in: 0..<6, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) })
        }
        let entries = keys.sorted { $0.lexicographicallyPrecedes($1) }.map { BencodeEntry(key: $0, value: randomValue(&generator, depth: depth + 1)) }
        return .dictionary(entries)
    }
}

/// Strict UTF-8 decoding of byte strings: the array fast path (ASCII) must agree with the general one.
@Suite struct StrictUTF8Tests {
    static let cases: [([UInt8], String?)] = [
        ([], ""),
        (Array("file-000001.dat".utf8), "file-000001.dat"),
        (Array("Ünïcødé 名前 🎵".utf8), "Ünïcødé 名前 🎵"),
        ([0x61, 0x80, 0x62], nil),             // a lone continuation byte
        ([0xC3], nil),                         // cut off
        ([0xC0, 0xAF], nil),                   // overlong "/"
        ([0xED, 0xA0, 0x80], nil),             // a UTF-16 surrogate
        ([0x61, 0x00, 0x7F], "a\u{0}\u{7F}"),  // ASCII controls are valid UTF-8
    ]

    @Test(arguments: cases)
    func arrayAndSliceAgree(bytes: [UInt8], expected: String?) {
        #expect(String(validatingUTF8Bytes: bytes) == expected)
        #expect(String(validatingUTF8Bytes: bytes[...]) == expected)
    }
}
