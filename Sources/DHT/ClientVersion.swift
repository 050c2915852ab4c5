/// The `v` field of KRPC as a client name: two letters naming the client, then two version bytes.
public enum ClientVersion {
    static let names: [String: String] = [
        "LT": "libtorrent", "lt": "rTorrent libtorrent", "UT": "µTorrent", "TR": "Transmission",
        "TT": "tt", "A2": "aria2", "GR": "GetRight", "MO": "MonoTorrent", "BT": "BitTorrent", "KT": "KTorrent",
    ]

    public static func describe(_ bytes: [UInt8]) -> String {
        guard bytes.count == 4, let code = String(validatingUTF8Bytes: bytes.prefix(2)),
              code.allSatisfy({ $0.isLetter || $0.isNumber }) else {
            return String(validatingUTF8Bytes: bytes).flatMap { $0.allSatisfy(\.isASCII) ? $0 : nil } ?? bytes.map { String(format2: $0) }.joined()
        }
        // libtorrent packs minor and tiny into the last byte (minor << 4 | tiny): 2.0.8 is 02 08.
        if code == "LT" { return "libtorrent \(bytes[2]).\(bytes[3] >> 4).\(bytes[3] & 0xf)" }
        return "\(names[code] ?? code) \(bytes[2]).\(bytes[3])"
    }
}

extension String {
    init(format2 byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self = String([digits[Int(byte >> 4)], digits[Int(byte & 0xf)]])
    }
}
