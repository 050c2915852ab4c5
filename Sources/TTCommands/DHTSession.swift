import DHT
import FoundationEssentials
import Glibc
import JSON
import Net

/// What every `tt dht` subcommand sets up: a loop, one UDP port, a node with its contacts,
/// `--trace`, an overall `--timeout`, and Ctrl-C.
final class DHTSession {
    let invocation: Invocation
    let loop = EventLoop()
    let node: DHTNode
    let start = monotonicSeconds()
    let deadline: Double
    var timedOut = false
    var interrupted = false

    init(_ invocation: Invocation, readOnly: Bool, defaultPort: UInt16 = 0, defaultTimeout: Double = 30) throws(TTError) {
        self.invocation = invocation
        let arguments = invocation.arguments
        let bindText = arguments.value("--bind") ?? "0.0.0.0"
        let portNumber = try invocation.arguments.integer("--port", in: 0...65535).map { UInt16($0) } ?? defaultPort
        guard let bind = SocketAddress(ip: bindText, port: portNumber) else {
            throw .usage("--bind needs a numeric IP address, got '\(bindText)'")
        }
        deadline = try Self.seconds(arguments, "--timeout") ?? defaultTimeout
        var configuration = DHTNode.Configuration()
        configuration.readOnly = readOnly
        configuration.bootstrap = try Self.contacts(arguments.all("--bootstrap"), family: bind.family, invocation: invocation,
                                                    loopbackOnly: configuration.loopbackOnly)
        if !arguments.has("--no-state") { configuration.statePath = Self.statePath(invocation) }
        let port: DatagramPort
        do { port = try DatagramPort(loop: loop, bind: bind) } catch {
            throw TTError(.unavailable, kind: "listen_failed", "cannot bind UDP \(bind): \(error)")
        }
        node = DHTNode(port: port, configuration: configuration)
        if arguments.has("--trace") {
            let environment = invocation.environment, start = start
            node.onTrace = { event in environment.writeJSON(DHTViews.trace(event, time: monotonicSeconds() - start)) }
        }
    }

    /// `$XDG_STATE_HOME/tt/dht.dat`; none for an in-process run given no environment (tests), so
    /// nothing a test does reaches the user's own state.
    static func statePath(_ invocation: Invocation) -> String? {
        let variables = invocation.environment.variables
        guard !variables.isEmpty else { return nil }
        return RoutingTableFile.defaultPath(environment: variables)
    }

    static func seconds(_ arguments: ParsedArguments, _ key: String) throws(TTError) -> Double? {
        guard let text = arguments.value(key) else { return nil }
        guard let value = Double(text), value > 0, value <= 86_400 * 365 else {
            throw .usage("\(key) needs a number of seconds, got '\(text)'")
        }
        return value
    }

    /// `--bootstrap HOST:PORT…`, or the public routers (never under the loopback guard).
    static func contacts(_ given: [String], family: SocketAddress.Family, invocation: Invocation, loopbackOnly: Bool) throws(TTError) -> [SocketAddress] {
        var addresses: [SocketAddress] = []
        for text in given {
            let (host, port): (String, UInt16)
            do { (host, port) = try SocketAddress.split(text) } catch { throw .usage("--bootstrap needs HOST:PORT, got '\(text)'") }
            if loopbackOnly, SocketAddress(ip: host, port: port) == nil, host != "localhost" {
                throw TTError(.unavailable, kind: "blocked", "--bootstrap \(text): only numeric loopback addresses under \(AddressGuard.environmentVariable)")
            }
            do { addresses += try SocketAddress.resolve(host: host, port: port).filter { $0.family == family } } catch {
                throw TTError(net: error)
            }
        }
        if given.isEmpty && !loopbackOnly {
            for router in AddressGuard.publicRouters {
                if let (host, port) = try? SocketAddress.split(router),
                   let resolved = try? SocketAddress.resolve(host: host, port: port, family: family) {
                    addresses += resolved.prefix(1)
                }
            }
        }
        return addresses
    }

    var elapsed: Double { monotonicSeconds() - start }

    /// Runs the loop until `finished()` stops it, the timeout passes, or Ctrl-C.
    func run() {
        loop.schedule(after: deadline) { [weak self] in
            self?.timedOut = true
            self?.loop.stop()
        }
        loop.onSignal([SIGINT, SIGTERM]) { [weak self] _ in
            self?.interrupted = true
            self?.loop.stop()
        }
        loop.run()
        node.save()
        node.close()
        node.port.close()
    }

    func finished() { loop.stop() }

    /// The one JSON document (or, with --trace, the last JSON Lines event), or the human text.
    func emit(_ fields: [JSONField], text: () -> String) {
        if invocation.arguments.has("--trace") {
            invocation.environment.writeJSON(.object([JSONField("event", .string("result"))] + fields))
        } else if invocation.json {
            invocation.environment.writeJSON(.object(fields), pretty: false)
        } else {
            invocation.output(text())
        }
    }
}
