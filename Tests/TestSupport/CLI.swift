import Foundation
import Synchronization
import TTCommands

/// The result of running `tt` in-process.
public struct CLIResult: Sendable {
    public var code: Int32
    public var stdout: [UInt8]
    public var stderr: String
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
}

/// Runs the CLI in-process with injected arguments, stdin and working directory
/// (no fork, no PATH lookup), so tests see exactly what a user would.
public enum CLI {
    public static func run(_ arguments: [String], stdin: [UInt8] = [], cwd: String = FileManager.default.currentDirectoryPath,
                           variables: [String: String] = [:]) -> CLIResult {
        let out = Mutex<[UInt8]>([])
        let err = Mutex<[UInt8]>([])
        let environment = CommandEnvironment(
            arguments: arguments, workingDirectory: cwd, variables: variables,
            stdin: { stdin },
            stdout: { bytes in out.withLock { $0.append(contentsOf: bytes) } },
            stderr: { bytes in err.withLock { $0.append(contentsOf: bytes) } },
            stderrIsTerminal: false)
        let code = RootCommand.main(environment)
        return CLIResult(code: code, stdout: out.withLock { $0 }, stderr: String(decoding: err.withLock { $0 }, as: UTF8.self))
    }
}

/// A temporary folder removed when the value is released.
public final class TemporaryDirectory: @unchecked Sendable {
    public let path: String

    public init(_ label: String = "tt-test") {
        let template = NSTemporaryDirectory() + "\(label)-XXXXXX"
        var bytes = Array(template.utf8CString)
        let made = bytes.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    /// Writes bytes, creating parent folders.
    @discardableResult
    public func write(_ name: String, _ bytes: [UInt8]) -> String {
        let full = file(name)
        try? FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        precondition(FileManager.default.createFile(atPath: full, contents: Data(bytes)), "cannot create a test file")
        return full
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
public func pseudoRandomBytes(count: Int, seed: UInt64) -> [UInt8] {
    var state = seed | 1
    var out = [UInt8](repeating: 0, count: count)
    var index = 0
    while index < count {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        var word = state
        for _ in 0..<8 where index < count { out[index] = UInt8(truncatingIfNeeded: word); word >>= 8; index += 1 }
    }
    return out
}

/// Where the fixtures folder lives in the checkout.
public let fixturesPath: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.appendingPathComponent("Fixtures").path
}()

public func fixture(_ name: String) -> String { (fixturesPath as NSString).appendingPathComponent(name) }

public func readBytes(_ path: String) -> [UInt8] { FileManager.default.contents(atPath: path).map { [UInt8]($0) } ?? [] }
