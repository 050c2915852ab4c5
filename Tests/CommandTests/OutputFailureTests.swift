import Foundation
import Testing
import TestSupport

/// stdout that cannot take the output: a full disk is an error (exit 74, one line on stderr), a reader
/// that went away (`| head`) ends the process quietly. Runs the built binary: both end the process.
@Suite struct OutputFailureTests {
    /// Runs `tt ARGUMENTS` with stdout on `stdoutPath`: exit status and stderr.
    func run(_ arguments: [String], stdoutPath: String) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ttExecutable)
        process.arguments = arguments
        let output = try #require(FileHandle(forWritingAtPath: stdoutPath))
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()  // until the process exits
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stderr, as: UTF8.self))
    }

    @Test(arguments: [["info", "--json"], ["info"], ["decode"]])
    func aFullDiskIsAnErrorNotSuccess(_ command: [String]) throws {
        guard FileManager.default.fileExists(atPath: "/dev/full") else {
            withKnownIssue("no /dev/full on this machine: cannot simulate a full disk") { Issue.record("precondition missing") }
            return
        }
        let (status, stderr) = try run(command + [fixture("good/libtorrent-v1-multi.torrent")], stdoutPath: "/dev/full")
        #expect(status == 74)
        #expect(stderr == "tt: error: cannot write to standard output: No space left on device\n")
    }

    @Test func aReaderThatWentAwayEndsQuietly() throws {
        // A pipe whose read end is closed: the first write gets EPIPE (SIGPIPE is ignored by tt).
        var ends: [Int32] = [0, 0]
        try #require(pipe(&ends) == 0)
        close(ends[0])
        defer { close(ends[1]) }
        let (status, stderr) = try run(["info", "--json", fixture("good/libtorrent-v1-multi.torrent")], stdoutPath: "/dev/fd/\(ends[1])")
        #expect(status == 0)
        #expect(stderr.isEmpty)
    }
}
