import Bencode
import JSON
import Testing

/// `tt decode` converts with `BencodeJSONStream`; it must print exactly what the value tree prints.
@Suite struct BencodeJSONStreamTests {
    func streamed(_ bytes: [UInt8], pretty: Bool) throws -> [UInt8] {
        var out: [UInt8] = []
        try bytes.withUnsafeBufferPointer { buffer in
            let scan = try BencodeDecoder(strictness: .lenient).scan(buffer)
            BencodeJSONStream.write(buffer, scan: scan, pretty: pretty) { out += $0 }
        }
        return out
    }

    func viaTree(_ bytes: [UInt8], pretty: Bool) throws -> [UInt8] {
        let document = try BencodeDecoder(strictness: .lenient).decode(bytes)
        return JSONWriter(pretty: pretty).bytes(BencodeJSON.json(from: document.root)) + [UInt8(ascii: "\n")]
    }

    static let samples: [[UInt8]] = [
        "i0e", "i-1e", "i007e", "i-0e", "i9223372036854775807e", "i9223372036854775808e", "i-9223372036854775808e",
        "i-9223372036854775809e", "i123456789012345678901234567890e", "0:", "5:hello", "5:a\"b\\c", "3:\u{01}\n\t",
        "le", "de", "li1ei2ee", "lli1eelee", "d4:name5:hello4:sizei-12e4:tagsl1:a1:bee", "d1:bi1e1:ai2ee",
        "d1:ai1e1:ai2ee", "d4:$hex1:xe", "d4:$hexd1:ai1eee", "d1:$i1e1:bi2ee", "d3:$\u{301}1:xe", "ld1:bi1e1:ai2eee",
        "d4:infod6:lengthi5e4:name1:x12:piece lengthi16e6:pieces0:ee", "i1e5:extra", "03:abc",
        "d1:ad1:bd1:cleeee", "d2:é1:x1:ale1:bdee", "l7:\u{7F}\"\\\r\nabe",
    ].map { Array($0.utf8) } + [
        Array("2:".utf8) + [0xFF, 0x00],
        Array("d2:".utf8) + [0xFF, 0xFE] + Array("i1e1:ai2ee".utf8),
        Array("ld2:".utf8) + [0xC0, 0x80] + Array("2:".utf8) + [0x80, 0x81] + Array("ee".utf8),
        Array("300000:".utf8) + (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7 | 0x80) },
        Array("300000:".utf8) + (0..<300_000).map { UInt8(truncatingIfNeeded: $0 % 90 + 32) },
    ]

    @Test(arguments: samples)
    func streamMatchesTheTree(_ bytes: [UInt8]) throws {
        #expect(try streamed(bytes, pretty: false) == viaTree(bytes, pretty: false))
        #expect(try streamed(bytes, pretty: true) == viaTree(bytes, pretty: true))
    }

    @Test func scanReportsWhatDecodeReports() throws {
        for bytes in Self.samples + [Array("d1:bi1e1:ai1ee".utf8), Array("i01e".utf8)] {
            let scan = try bytes.withUnsafeBufferPointer { try BencodeDecoder(strictness: .lenient).scan($0) }
            #expect(scan.warnings == (try BencodeDecoder(strictness: .lenient).decode(bytes)).warnings)
        }
        for bad in ["", "i1", "l", "d1:a", "5:ab", "x", "di1ei2ee", "i-e"].map({ Array($0.utf8) }) {
            let scanError = bad.withUnsafeBufferPointer { buffer -> BencodeError? in
                do throws(BencodeError) { _ = try BencodeDecoder().scan(buffer); return nil } catch { return error }
            }
            let decodeError: BencodeError?
            do throws(BencodeError) { _ = try BencodeDecoder().decode(bad); decodeError = nil } catch { decodeError = error }
            #expect(scanError != nil)
            #expect(scanError == decodeError)
        }
    }
}
