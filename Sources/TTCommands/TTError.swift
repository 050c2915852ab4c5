import Foundation

/// The exit codes of ../CONVENTIONS (sysexits).
public enum ExitCode: Int32, Sendable {
    case success = 0
    case checkFailed = 1
    case usage = 64
    case dataError = 65
    case noInput = 66
    case unavailable = 69
    case ioError = 74
    case timeout = 75
    case protocolError = 76
    case interrupted = 130
}

/// An error as the user sees it: one line on stderr, a kind for `--json`, an exit code.
public struct TTError: Error, Sendable, CustomStringConvertible {
    public var code: ExitCode
    /// A short machine-readable kind, e.g. `usage`, `bad_torrent`, `tracker_failure`.
    public var kind: String
    public var message: String
    /// Extra fields for the `--json` error object.
    public var details: [(String, String)]

    public init(_ code: ExitCode, kind: String, _ message: String, details: [(String, String)] = []) {
        self.code = code
        self.kind = kind
        self.message = message
        self.details = details
    }

    public var description: String { message }

    public static func usage(_ message: String) -> TTError { TTError(.usage, kind: "usage", message) }
}
