import FoundationEssentials
import Glibc
import JSON
import Metainfo
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
        let temporary = invocation.environment.variables["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        let work = keep ?? PathName.appending(temporary, "tt-demo-\(getpid())")
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
    private var children: [ChildProcess] = []

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
            throw TTError(.ioError, kind: "io_error", "\(work): \(fileErrorReason(error))")
        }
        say("# tt demo in \(work): \(fileCount) files, \(Format.bytes(Int64(size))), all on 127.0.0.1")
        try makeData()
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
    func makeData() throws(TTError) {
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
            let path = "\(work)/seed/demo/file\(index).bin"
            guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
                throw TTError(.ioError, kind: "io_error", "\(path): cannot write the demo's data (is the disk full?)")
            }
        }
    }

    /// Runs one stage as a real `tt` process, printing the command and its output.
    func step(_ arguments: [String], show: ((String) -> String)? = nil) throws(TTError) {
        say("\n$ tt " + arguments.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " "))
        let process = try spawn(arguments + ["-q"], stdout: .pipe, stderr: .pipe)
        let (data, errorData) = process.readToEnd()
        let status = process.wait()
        let text = Format.trimmed(String(decoding: data, as: UTF8.self), newlinesOnly: true)
        if !text.isEmpty { say(show?(text) ?? text) }
        guard status == 0 else {
            let message = Format.trimmed(String(decoding: errorData, as: UTF8.self))
            throw TTError(ExitCode(rawValue: status) ?? .protocolError, kind: "demo_step",
                          "demo step 'tt \(arguments[0])' failed (exit \(status)): \(message)")
        }
    }

    private func spawn(_ arguments: [String], stdout: ChildProcess.Output, stderr: ChildProcess.Output) throws(TTError) -> ChildProcess {
        do {
            return try ChildProcess(executable: executable, arguments: arguments, directory: work, stdout: stdout, stderr: stderr)
        } catch {
            throw TTError(.unavailable, kind: "spawn", "\(error)")  // "cannot run PATH: reason"
        }
    }

    /// Starts a long-running stage in the background (with --json) and returns its `listening` event: it
    /// was given port 0, and the event says which port it got.
    func start(_ arguments: [String]) throws(TTError) -> JSONValue {
        say("\n$ tt " + arguments.joined(separator: " ") + " &")
        let process = try spawn(arguments + ["--json", "-q"], stdout: .pipe, stderr: .inherit)
        children.append(process)
        var received: [UInt8] = []
        let deadline = monotonicSeconds() + 30
        // Its JSON Lines until the listening event (or its exit, or the deadline).
        while monotonicSeconds() < deadline {
            var ready = pollfd(fd: process.stdoutFD, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 200) >= 0 || errno == EINTR else { break }
            if ready.revents == 0 { continue }
            guard let chunk = process.readAvailable() else { break }  // it exited
            received += chunk
            for line in received.split(separator: UInt8(ascii: "\n")) {
                if let event = try? JSONParser().parse(Array(line)), event["event"]?.stringValue == "listening" {
                    // The rest of its output is read and dropped, so it never blocks on a full pipe.
                    process.discardRemainingOutput()
                    return event
                }
            }
        }
        throw TTError(.unavailable, kind: "demo_step", "tt \(arguments[0]) did not report where it listens")
    }

    /// Polls the tracker (through our own scrape) until the seeder shows up, for at most 10 s.
    func waitForAnnounce(_ announce: String) {
        let deadline = monotonicSeconds() + 10
        while monotonicSeconds() < deadline {
            guard let process = try? spawn(["scrape", "demo.torrent", "--tracker", announce, "--json", "-q"], stdout: .pipe, stderr: .discard) else { return }
            let text = String(decoding: process.readToEnd().stdout, as: UTF8.self)
            process.wait()
            if text.contains("\"complete\":1") || text.contains("\"seeders\":1") { return }
            usleep(200_000)
        }
    }

    func stopAll() {
        for process in children { process.signal(SIGTERM) }
        for process in children {
            let deadline = monotonicSeconds() + 3
            while process.isRunning && monotonicSeconds() < deadline { usleep(20_000) }
            process.signal(SIGKILL)
            process.wait()
        }
        children.removeAll()
    }
}
