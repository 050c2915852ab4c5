import Bencode
import JSON

/// `tt encode`: the JSON form that `decode` prints, back to bencode bytes.
struct EncodeCommand: Command {
    static let spec = CommandSpec(
        name: "encode",
        summary: "turn JSON (as 'tt decode' prints it) back into bencode",
        usage: "tt encode [FILE|-]",
        options: [OptionSpec(["--output", "-o"], value: "FILE", help: "write to FILE instead of stdout")],
        positionals: 0...1,
        discussion: "Object keys are written sorted (canonical bencode); {\"$entries\": …} keeps its order exactly.",
        examples: ["tt decode x.torrent | jq '.announce = \"http://127.0.0.1:6969/announce\"' | tt encode > y.torrent"])

    static func run(_ invocation: Invocation) throws(TTError) -> ExitCode {
        let source = invocation.arguments.positionals.first ?? "-"
        let text = try TorrentInput.readInput(source, invocation.environment)
        let json: JSONValue
        do {
            json = try JSONParser().parse(text)
        } catch {
            throw TTError(.dataError, kind: "bad_json", "\(source == "-" ? "stdin" : source): invalid JSON at \(error)")
        }
        let bytes: [UInt8]
        do {
            bytes = try BencodeJSON.bencodeBytes(from: json)
        } catch {
            throw TTError(.dataError, kind: "bad_json", "cannot encode \(error)")
        }
        if let output = invocation.arguments.value("--output") {
            try FileOutput.writeAtomically(bytes, to: invocation.environment.path(output))
        } else {
            invocation.environment.writeBytes(bytes)
        }
        return .success
    }
}
