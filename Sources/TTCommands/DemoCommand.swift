import Foundation
import Glibc
import JSON
import Net

/// `tt demo`: the whole protocol on loopback with nothing but this binary. Makes some data,
/// creates a torrent of it, starts `tt tracker` and `tt seed`, runs every stage against them
/// (decode → info → announce → handshake → fetch-piece → download → verify), compares the
/// download with the source byte for byte, and stops what it started.
struct DemoCommand: Command {
    static let spec = CommandSpec(
        name: "demo",
        summary: "create, serve and download a torrent on loopback through every stage",
        usage: "tt demo [--size BYTES] [--keep DIR]",
        options: [
            OptionSpec(["--size"], value: "BYTES", help: "how much data to make (default 8M; K/M/G suffixes)"),
            OptionSpec(["--files"], value: "N", help: "make a multi-file torrent of N files (default 3)"),
            OptionSpec(["--keep"], value: "DIR", help: "work in DIR and leave it there (default: a temporary folder, removed)"),
        ],
        positionals: 0...0,
        discussion: "Every step is a real 'tt' process, printed as the command a user would type; nothing leaves 127.0.0.1.",
        examples: ["tt demo", "tt demo --size 200M --keep /tmp/tt-demo"])

    static func run(_ invocation: Invocation) throws(TTError) -> ExitCode {
        // Every stage stays on loopback: the DHT of seed and download must not reach the public routers.
        setenv("TT_DHT_LOOPBACK_ONLY", "1", 1)
        let arguments = invocation.arguments
        var size = 8 << 20
        if let text = arguments.value("--size") {
            guard let parsed = ParsedArguments.byteSize(text), parsed > 0, parsed <= 64 << 30 else { throw .usage("--size needs a size like 8M, got '\(text)'") }
            size = parsed
        }
        let fileCount = try arguments.integer("--files", in: 1...1000) ?? 3
        let keep = arguments.value("--keep").map(invocation.environment.path)
        let work = keep ?? NSTemporaryDirectory() + "tt-demo-\(getpid())"
        let demo = Demo(invocation: invocation, work: work, size: size, fileCount: fileCount)
        defer {
            demo.stopAll()
            if keep == nil { try? FileManager.default.removeItem(atPath: work) }
        }
        try demo.run()
        return .success
    }
}

/// The demo's steps and the child processes it must stop.
final class Demo {
    let invocation: Invocation
    let work: String
    let size: Int
    let fileCount: Int
    let executable: String
    private var children: [Process] = []

    init(invocation: Invocation, work: String, size: Int, fileCount: Int) {
        self.invocation = invocation
        self.work = work
        self.size = size
        self.fileCount = fileCount
        self.executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    func say(_ text: String) { invocation.output(text) }

    func run() throws(TTError) {
        let fm = FileManager.default
        try? fm.removeItem(atPath: work + "/seed")
        try? fm.removeItem(atPath: work + "/downloads")
        do { try fm.createDirectory(atPath: work + "/seed/demo", withIntermediateDirectories: true) } catch {
            throw TTError(.ioError, kind: "io_error", "\(work): \(error.localizedDescription)")
        }
        say("# tt demo in \(work): \(fileCount) files, \(Format.bytes(Int64(size))), all on 127.0.0.1")
        makeData()
        // The tracker first, on ports of its choosing (0): the torrent names the ports it got.
        let tracker = try start(["tracker", "--http-port", "0", "--udp-port", "0", "--bind", "127.0.0.1", "--interval", "5"])
        guard let httpPort = tracker["http_port"]?.intValue, let udpPort = tracker["udp_port"]?.intValue else {
            throw TTError(.protocolError, kind: "demo_step", "tt tracker reported no ports: \(tracker)")
        }
        let announce = "http://127.0.0.1:\(httpPort)/announce"

        try step(["create", "seed/demo", "-a", announce, "-a", "udp://127.0.0.1:\(udpPort)", "-o", "demo.torrent", "--force"])
        try step(["decode", "demo.torrent", "--compact"], show: { String($0.prefix(160)) + "…" })
        try step(["info", "demo.torrent"])
        let seed = try start(["seed", "demo.torrent", "seed/demo", "--port", "0", "--bind", "127.0.0.1"])
        guard let seedPort = seed["port"]?.intValue else { throw TTError(.protocolError, kind: "demo_step", "tt seed reported no port: \(seed)") }
        // Until the tracker counts the seeder (its scrape says so; 10 s at most).
        waitForAnnounce(announce)
        try step(["announce", "demo.torrent", "--tracker", "udp://127.0.0.1:\(udpPort)", "--port", "1"])
        try step(["scrape", "demo.torrent", "--tracker", announce])
        try step(["handshake", "127.0.0.1:\(seedPort)", "--torrent", "demo.torrent"])
        try step(["fetch-piece", "--torrent", "demo.torrent", "--peer", "127.0.0.1:\(seedPort)", "--piece", "0", "-o", "piece0.bin"])
        try step(["download", "demo.torrent", "-o", "downloads", "--bind", "127.0.0.1"])
        try step(["verify", "downloads/demo"])
        for index in 0..<fileCount {
            let name = "demo/file\(index).bin"
            guard fm.contentsEqual(atPath: "\(work)/seed/\(name)", andPath: "\(work)/downloads/\(name)") else {
                throw TTError(.checkFailed, kind: "mismatch", "downloads/\(name) differs from seed/\(name)")
            }
        }
        say("# cmp: every downloaded file is byte-identical to its source")
        say("# done: tracker and seeder stopped\(invocation.arguments.value("--keep") == nil ? ", temporary folder removed" : "")")
    }

    /// Deterministic pseudo-random content, split over the files.
    func makeData() {
        var state: UInt64 = 0x9E3779B97F4A7C15
        for index in 0..<fileCount {
            let length = size / fileCount + (index == 0 ? size % fileCount : 0)
            var bytes = [UInt8](repeating: 0, count: length)
            bytes.withUnsafeMutableBytes { raw in
                let words = raw.bindMemory(to: UInt64.self)
                for word in words.indices {
                    state ^= state << 13; state ^= state >> 7; state ^= state << 17
                    words[word] = state
                }
            }
            FileManager.default.createFile(atPath: "\(work)/seed/demo/file\(index).bin", contents: Data(bytes))
        }
    }

    /// Runs one stage as a real `tt` process, printing the command and its output.
    func step(_ arguments: [String], show: ((String) -> String)? = nil) throws(TTError) {
        say("\n$ tt " + arguments.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " "))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments + ["-q"]
        process.currentDirectoryURL = URL(fileURLWithPath: work)
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw TTError(.unavailable, kind: "spawn", "cannot run \(executable): \(error.localizedDescription)")
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
        if !text.isEmpty { say(show?(text) ?? text) }
        guard process.terminationStatus == 0 else {
            let message = String(decoding: errorData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw TTError(ExitCode(rawValue: process.terminationStatus) ?? .protocolError, kind: "demo_step",
                          "demo step 'tt \(arguments[0])' failed (exit \(process.terminationStatus)): \(message)")
        }
    }

    /// Starts a long-running stage in the background (with --json) and returns its `listening` event: it
    /// was given port 0, and the event says which port it got.
    func start(_ arguments: [String]) throws(TTError) -> JSONValue {
        say("\n$ tt " + arguments.joined(separator: " ") + " &")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments + ["--json", "-q"]
        process.currentDirectoryURL = URL(fileURLWithPath: work)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw TTError(.unavailable, kind: "spawn", "cannot run \(executable): \(error.localizedDescription)")
        }
        children.append(process)
        let reader = output.fileHandleForReading
        var received: [UInt8] = []
        let deadline = Date().addingTimeInterval(30)
        // Its JSON Lines until the listening event (or its exit, or the deadline).
        while Date() < deadline {
            var ready = pollfd(fd: reader.fileDescriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 200) >= 0 else { break }
            if ready.revents == 0 { continue }
            let chunk = reader.availableData
            if chunk.isEmpty { break }  // it exited
            received += chunk
            for line in received.split(separator: UInt8(ascii: "\n")) {
                if let event = try? JSONParser().parse(Array(line)), event["event"]?.stringValue == "listening" {
                    // The rest of its output is read and dropped, so it never blocks on a full pipe.
                    reader.readabilityHandler = { _ = $0.availableData }
                    return event
                }
            }
        }
        throw TTError(.unavailable, kind: "demo_step", "tt \(arguments[0]) did not report where it listens")
    }

    /// Polls the tracker (through our own scrape) until the seeder shows up, for at most 10 s.
    func waitForAnnounce(_ announce: String) {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = ["scrape", "demo.torrent", "--tracker", announce, "--json", "-q"]
            process.currentDirectoryURL = URL(fileURLWithPath: work)
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            guard (try? process.run()) != nil else { return }
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let text = String(decoding: data, as: UTF8.self)
            if text.contains("\"complete\":1") || text.contains("\"seeders\":1") { return }
            usleep(200_000)
        }
    }

    func stopAll() {
        for process in children where process.isRunning {
            kill(process.processIdentifier, SIGTERM)
        }
        for process in children {
            let deadline = Date().addingTimeInterval(3)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        children.removeAll()
    }
}
