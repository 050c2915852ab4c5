import Bencode
import JSON

/// A `tt` subcommand: a spec for parsing and help, and a run that returns an exit code.
public protocol Command: Sendable {
    static var spec: CommandSpec { get }
    static func run(_ invocation: Invocation) throws(TTError) -> ExitCode
}

/// One run of a command: parsed arguments plus where to read and write.
public struct Invocation {
    public var arguments: ParsedArguments
    public var environment: CommandEnvironment

    public var json: Bool { arguments.has("--json") }
    public var verbosity: Verbosity {
        if arguments.has("--quiet") { return .quiet }
        if arguments.has("--verbose") { return .verbose }
        return .normal
    }

    // Text output and messages pass through `TerminalText.escapeKeepingLayout`: whatever a torrent,
    // tracker or peer put in them, no escape sequence reaches the terminal (README "Output").

    /// Talk on stderr (progress, notes), silenced by `-q`.
    public func note(_ text: String) {
        guard verbosity >= .normal else { return }
        let text = TerminalText.escapeKeepingLayout(text)
        environment.writeError(text.hasSuffix("\n") ? text : text + "\n")
    }

    /// Protocol detail on stderr, only with `-v`.
    public func log(_ text: String) {
        guard verbosity >= .verbose else { return }
        let text = TerminalText.escapeKeepingLayout(text)
        environment.writeError(text.hasSuffix("\n") ? text : text + "\n")
    }

    public func warn(_ text: String) {
        guard verbosity >= .normal else { return }
        environment.writeError("tt: warning: \(TerminalText.escapeKeepingLayout(text))\n")
    }

    public func output(_ text: String) {
        let text = TerminalText.escapeKeepingLayout(text)
        environment.write(text.hasSuffix("\n") ? text : text + "\n")
    }

    public func outputJSON(_ value: JSONValue) {
        environment.writeJSON(value, pretty: false)
    }
}
