import Metainfo
import Storage

/// Which HTTP byte ranges make up a piece on a BEP 19 web seed: no I/O, bytes of the layout in,
/// requests out (see tt-fetch-piece(1), "Web seeds").
public struct WebSeedPlan: Sendable {
    /// One part of a piece: a range of one file at `url`, or zeros for a BEP 47 pad file.
    public struct Part: Sendable, Equatable {
        /// nil for pad-file bytes, which are zeros and never on the server.
        public var url: String?
        /// First byte within the file (the `Range: bytes=first-last` header).
        public var fileOffset: Int64
        public var length: Int
        /// Where these bytes go in the piece.
        public var pieceOffset: Int
        /// The file's whole length (a server that ignores Range sends this many bytes).
        public var fileLength: Int64

        public var rangeHeader: String { "bytes=\(fileOffset)-\(fileOffset + Int64(length) - 1)" }
    }

    public let base: String
    public let layout: FileLayout

    /// `base` is the url-list entry: for a single-file torrent the file's URL (or a folder ending in
    /// `/`, to which the name is added); for a multi-file torrent the folder holding `<name>/`.
    public init(base: String, layout: FileLayout) throws(WebSeedError) {
        let lower = base.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else {
            throw .badURL(base, "a web seed is an http:// or https:// URL")
        }
        guard layout.version != .v2 else {
            throw .unsupported("web seeds need SHA-1 piece hashes; this torrent is v2-only")
        }
        self.base = base
        self.layout = layout
    }

    /// The URL of file `index` (BEP 19: multi-file URLs are base + name + path, each part percent-encoded).
    public func url(ofFile index: Int) -> String {
        if !layout.isMultiFile {
            return base.hasSuffix("/") ? base + Self.percentEncoded(layout.name) : base
        }
        let folder = base.hasSuffix("/") ? base : base + "/"
        return folder + ([layout.name] + layout.files[index].path).map(Self.percentEncoded).joined(separator: "/")
    }

    /// The parts of `piece`, in piece order.
    public func parts(of piece: PieceIndex) -> [Part] {
        layout.spans(of: piece).map { span in
            let file = layout.files[span.file]
            return Part(url: file.isPadding ? nil : url(ofFile: span.file), fileOffset: span.fileOffset, length: span.length,
                        pieceOffset: span.rangeOffset, fileLength: file.length)
        }
    }

    /// RFC 3986: everything but unreserved characters as %XX of its UTF-8 bytes.
    static func percentEncoded(_ component: String) -> String {
        var out = ""
        for byte in component.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 15, radix: 16, uppercase: true)
            }
        }
        return out
    }
}
