import Bencode
import JSON

/// `tt decode`: any bencode to JSON, losslessly (see `BencodeJSON` for the tagged forms).
struct DecodeCommand: Command {
    static let spec = CommandSpec(
        name: "decode",
        summary: "print any bencode (a .torrent, a tracker reply) as JSON",
        usage: "tt decode [--strict] [--compact] FILE|-",
        options: [
            OptionSpec(["--strict"], help: "treat non-canonical bencode (unsorted keys, leading zeros, trailing bytes) as an error"),
            OptionSpec(["--compact"], help: "one line of JSON instead of indented"),
        ],
        positionals: 1...1,
        discussion: """
        Byte strings that are valid UTF-8 become JSON strings. Other values use one-key tagged objects:
        {"$hex": "…"} for binary strings, {"$int": "007"} for integers written non-canonically or beyond
        64 bits, {"$entries": [[key, value], …]} for dictionaries with binary, duplicate or unsorted keys,
        {"$dict": {…}} for a real dictionary whose only key starts with '$'. 'tt encode' reverses it.
        """,
        examples: ["tt decode x.torrent | jq '.info.name'", "tt decode x.torrent | tt encode | cmp - x.torrent"])

    static func run(_ invocation: Invocation) throws(TTError) -> ExitCode {
        let source = invocation.arguments.positionals[0]
        let decoder = BencodeDecoder(strictness: invocation.arguments.has("--strict") ? .strict : .lenient)
        let pretty = !invocation.arguments.has("--compact")
        let environment = invocation.environment
        // Checked first (errors and warnings as `decode` gives them), then converted straight from
        // the input bytes: no value tree and no copy of big strings.
        try TorrentInput.withInput(source, environment) { buffer throws(TTError) in
            let scan: BencodeScan
            do throws(BencodeError) {
                scan = try decoder.scan(buffer)
            } catch {
                throw TTError(.dataError, kind: "bad_bencode", "\(source == "-" ? "stdin" : source): \(error)",
                              details: [("offset", String(error.offset))])
            }
            for warning in scan.warnings { invocation.warn(TerminalText.escape("\(source): \(warning)")) }
            BencodeJSONStream.write(buffer, scan: scan, pretty: pretty) { environment.writeBytes($0) }
        }
        return .success
    }
}
