import Foundation
import JSON

/// Waiting for an event with a deadline, never for a guessed time: tests wait for the thing they need
/// (an output line, a listener, a file, a pid exiting) and say what they waited for when it never came.

/// Re-checks `condition` every `poll` seconds until it holds or `timeout` passes; returns whether it held.
/// For state that announces itself by no event (a file filling, a tracker's peer list).
@discardableResult
public func waitUntil(timeout: Double, poll: Double = 0.05, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if try condition() { return true }
        if Date() >= deadline { return false }
        usleep(UInt32(poll * 1_000_000))
    }
}

/// `waitUntil` that throws `WaitTimedOut` naming `what` was awaited, for preconditions a test cannot go on without.
public func waitUntil(_ what: String, timeout: Double, poll: Double = 0.05, _ condition: () throws -> Bool) throws {
    guard try waitUntil(timeout: timeout, poll: poll, condition) else { throw WaitTimedOut(what: what, timeout: timeout) }
}

public struct WaitTimedOut: Error, CustomStringConvertible {
    public let what: String
    public let timeout: Double
    public var description: String { "timed out after \(timeout) s waiting for \(what)" }
}

extension ManagedProcess {
    /// Waits until the output contains `text`; false at the deadline, or as soon as the process exits without it.
    public func waitForOutput(_ text: String, timeout: Double = 30) -> Bool {
        waitUntil(timeout: timeout) { log.contains(text) || !isRunning } && log.contains(text)
    }

    /// The JSON Lines events in the output so far (other lines skipped).
    public var events: [JSONValue] {
        log.split(separator: "\n").compactMap { line in
            guard line.first == "{" else { return nil }
            return try? JSONParser().parse(Array(line.utf8))
        }
    }

    /// The first JSON Lines event named `name` (`"event": name`), waiting for it up to `timeout`.
    public func waitForEvent(_ name: String, timeout: Double = 30) -> JSONValue? {
        var found: JSONValue?
        waitUntil(timeout: timeout) {
            found = events.first { $0["event"]?.stringValue == name }
            return found != nil || !isRunning
        }
        return found ?? events.first { $0["event"]?.stringValue == name }
    }

    /// The port in a `tt` JSON Lines `listening` event (`key` names the field: `port`, `http_port`, `udp_port`),
    /// for a `tt` started with port 0; it joins the process's `ports`. Throws with the output when the event never comes.
    public func listeningPort(_ key: String = "port", timeout: Double = 30) throws -> Int {
        guard let event = waitForEvent("listening", timeout: timeout), let port = event[key]?.intValue else {
            throw WaitTimedOut(what: "a listening event with \(key) from \(label) (running: \(isRunning)); output:\n\(log)", timeout: timeout)
        }
        if !ports.contains(Int(port)) { ports.append(Int(port)) }
        return Int(port)
    }

    /// The port of a `listening <port>` line: what the libtorrent helpers print once their session,
    /// started on port 0, has bound (`Seeders.libtorrentReportPort`).
    public func reportedPort(timeout: Double = 30) throws -> Int {
        var port: Int?
        waitUntil(timeout: timeout) {
            port = log.split(separator: "\n").lazy.compactMap { line -> Int? in
                let words = line.split(separator: " ")
                return words.count == 2 && words[0] == "listening" ? Int(words[1]).flatMap { $0 > 0 ? $0 : nil } : nil
            }.first
            return port != nil || !isRunning
        }
        guard let port else {
            throw WaitTimedOut(what: "'listening <port>' from \(label) (running: \(isRunning)); output:\n\(log)", timeout: timeout)
        }
        ports = [port]
        return port
    }
}
