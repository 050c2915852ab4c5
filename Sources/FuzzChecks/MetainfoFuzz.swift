import Bencode
import Foundation
import JSON
import Metainfo

extension FuzzTarget {
    /// Every parser a hostile .torrent reaches: bencode (strict and lenient), the JSON mapping
    /// both ways, the metainfo model and magnet links.
    public static let metainfo = FuzzTarget(
        name: "metainfo", summary: "bencode (strict, lenient), its JSON mapping, torrents, magnet links",
        exercise: { bytes in try exerciseMetainfo(bytes) },
        seeds: {
            [Array("d8:announce20:http://127.0.0.1/ann4:infod6:lengthi5e4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee".utf8),
             Array("magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=x&tr=http%3A%2F%2F127.0.0.1%2Fa".utf8),
             Array("li1ei-2e3:abcd1:ai0eee".utf8)]
        })
}

func exerciseMetainfo(_ bytes: [UInt8]) throws {
    _ = try? BencodeDecoder(strictness: .strict).decode(bytes)
    if let document = try? BencodeDecoder(strictness: .lenient, recordsSpans: true).decode(bytes) {
        let json = BencodeJSON.json(from: document.root)
        let text = JSONWriter().bytes(json)
        if let parsed = try? JSONParser().parse(text), let back = try? BencodeJSON.bencodeBytes(from: parsed) {
            // Lossless: anything without leading-zero string lengths or trailing bytes round-trips
            // exactly (those two are the lenient decoder's only normalisations).
            let exact = document.warnings.allSatisfy { !$0.message.contains("string length") && !$0.message.contains("trailing") }
            if exact, back != bytes { throw FuzzViolation("bencode → JSON → bencode changed the bytes") }
        }
    }
    if let torrent = try? Torrent(bytes: bytes) {
        _ = MagnetLink(torrent: torrent).link
        for piece in torrent.layout.indices.prefix(4) { _ = torrent.pieceHash(piece) }
    }
    _ = try? JSONParser().parse(bytes)
    if let text = String(validatingUTF8Bytes: bytes), let link = try? MagnetLink(parsing: text) {
        // What a link decodes to, written again, decodes to the same.
        guard let again = try? MagnetLink(parsing: link.link) else { throw FuzzViolation("magnet link written back does not parse") }
        if again != link { throw FuzzViolation("magnet link → text → link is not stable") }
    }
}
