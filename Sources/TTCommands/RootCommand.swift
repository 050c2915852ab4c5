import Bencode
import FoundationEssentials
import Glibc
import JSON
import Metainfo

/// The `tt` entry point: dispatches to a subcommand and turns every error into
/// one stderr line and an exit code (the only place that does).
public enum RootCommand {
    public static let version = ClientIdentity.version

    /// Every subcommand, in the order `tt --help` lists them.
    public static let commands: [any Command.Type] = [
        DecodeCommand.self,
        EncodeCommand.self,
        InfoCommand.self,
        CreateCommand.self,
        EditCommand.self,
        AnnounceCommand.self,
        ScrapeCommand.self,
        TrackerCommand.self,
        HandshakeCommand.self,
        FetchPieceCommand.self,
        SeedCommand.self,
        VerifyCommand.self,
        DownloadCommand.self,
        DHTCommand.self,
        SwarmCommand.self,
        DemoCommand.self,
        CompletionsCommand.self,
    ]

    public static func main(_ environment: CommandEnvironment) -> Int32 {
        let arguments = environment.arguments
        guard let first = arguments.first else {
            environment.writeError(rootHelp)
            return ExitCode.usage.rawValue
        }
        switch first {
        case "--help", "-h", "help":
            if first == "help", arguments.count > 1, let command = find(arguments[1]) {
                environment.write(command.spec.helpText)
            } else {
                environment.write(rootHelp)
            }
            return 0
        case "--version", "-V":
            environment.write("tt \(version)\n")
            return 0
        default:
            break
        }
        guard let command = find(first) else {
            var message = "unknown command '\(first)'"
            if let guess = ParsedArguments.suggest(first, among: commands.map { $0.spec.name }) {
                message += "; did you mean '\(guess)'?"
            } else {
                message += "; see 'tt --help'"
            }
            return report(TTError.usage(message), json: arguments.contains("--json"), environment)
        }
        let wantsJSON = arguments.contains("--json")
        do throws(TTError) {
            let parsed = try ParsedArguments.parse(Array(arguments.dropFirst()), spec: command.spec)
            if parsed.has("--help") {
                environment.write(command.spec.helpText)
                return 0
            }
            return try command.run(Invocation(arguments: parsed, environment: environment)).rawValue
        } catch {
            return report(error, json: wantsJSON, environment)
        }
    }

    static func find(_ name: String) -> (any Command.Type)? {
        commands.first { $0.spec.name == name }
    }

    static func report(_ error: TTError, json: Bool, _ environment: CommandEnvironment) -> Int32 {
        let line = error.message.replacing("\n", with: " ")
        environment.writeError("tt: error: \(TerminalText.escape(line))\n")  // the JSON keeps it exact
        if json {
            var fields: [JSONField] = [JSONField("kind", .string(error.kind)), JSONField("message", .string(line)),
                                       JSONField("exit_code", .int(Int64(error.code.rawValue)))]
            for (key, value) in error.details { fields.append(JSONField(key, .string(value))) }
            environment.writeJSON(["error": .object(fields)])
        }
        return error.code.rawValue
    }

    static var rootHelp: String {
        var text = """
        tt \(version) — a BitTorrent protocol toolkit: every stage on its own, JSON out.

        Usage: tt COMMAND [OPTIONS] [ARGS]

        Commands:

        """
        let width = commands.map { $0.spec.name.count }.max() ?? 0
        for command in commands {
            let name = command.spec.name
            text += "  \(name)\(String(repeating: " ", count: width - name.count))  \(command.spec.summary)\n"
        }
        text += """

        Every command takes --json (machine output on stdout), -v/--verbose, -q/--quiet and --help.
        Run 'tt COMMAND --help' for a command's options, 'man tt' for exit codes and JSON shapes.

        """
        return text
    }
}
