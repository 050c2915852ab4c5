import DHT
import JSON
import Net

/// `tt dht SUBCOMMAND`: talk KRPC (BEP 5) to any node and show what the DHT knows.
struct DHTCommand: Command {
    static let subcommands = ["ping", "find-node", "get-peers", "announce", "sample", "serve"]

    static let spec = CommandSpec(
        name: "dht",
        summary: "ask the DHT: ping, find-node, get-peers, announce, sample, or serve a node",
        usage: "tt dht ping HOST:PORT | find-node TARGET [--node HOST:PORT] | get-peers INFOHASH|TORRENT|MAGNET | "
            + "announce INFOHASH --port N | sample [HOST:PORT] | serve [--port N]",
        options: [
            OptionSpec(["--bootstrap"], value: "HOST:PORT", repeats: true, help: "contact node(s) (default: the public routers)"),
            OptionSpec(["--bind"], value: "ADDR", help: "local address for the UDP socket (default 0.0.0.0)"),
            OptionSpec(["--port"], value: "N", help: "UDP port (serve: default 6881; announce: the port to announce)"),
            OptionSpec(["--timeout"], value: "S", help: "give up after S seconds (default 30; serve: run until interrupted)"),
            OptionSpec(["--node"], value: "HOST:PORT", help: "find-node: ask this one node instead of looking up"),
            OptionSpec(["--implied-port"], help: "announce: ask nodes to use our UDP source port"),
            OptionSpec(["--trace"], help: "print every KRPC message as JSON Lines on stdout"),
            OptionSpec(["--no-state"], help: "neither read nor write the saved routing table"),
        ],
        positionals: 1...2,
        discussion: """
        One-off commands ask with ro=1 (BEP 43) so other nodes do not add them to their tables. The routing
        table is kept in $XDG_STATE_HOME/tt/dht.dat (default ~/.local/state/tt/dht.dat) so the next run starts warm.
        With TT_DHT_LOOPBACK_ONLY set, nothing is sent to a non-loopback address and the public routers are not used.
        """,
        examples: [
            "tt dht ping 127.0.0.1:6881",
            "tt dht get-peers 'magnet:?xt=urn:btih:…' --bootstrap 127.0.0.1:6881 --json | jq -r '.peers[].addr'",
            "tt dht serve --port 6881 --bootstrap 127.0.0.2:6881 --json",
        ])

    static func run(_ invocation: Invocation) throws(TTError) -> ExitCode {
        let positionals = invocation.arguments.positionals
        let sub = positionals[0]
        let operand = positionals.count > 1 ? positionals[1] : nil
        func need(_ what: String) throws(TTError) -> String {
            guard let operand else { throw .usage("tt dht \(sub) needs \(what)") }
            return operand
        }
        switch sub {
        case "ping": return try DHTQueryCommands.ping(invocation, try need("HOST:PORT"))
        case "find-node": return try DHTQueryCommands.findNode(invocation, try need("a 40-hex TARGET"))
        case "get-peers": return try DHTQueryCommands.getPeers(invocation, try need("an INFOHASH, TORRENT or MAGNET"))
        case "announce": return try DHTQueryCommands.announce(invocation, try need("an INFOHASH, TORRENT or MAGNET"))
        case "sample": return try DHTQueryCommands.sample(invocation, operand)
        case "serve":
            if let operand { throw .usage("unexpected argument '\(operand)'; usage: tt dht serve [--port N]") }
            return try DHTServeCommand.run(invocation)
        default:
            var message = "unknown dht command '\(sub)'"
            if let guess = ParsedArguments.suggest(sub, among: subcommands) { message += "; did you mean '\(guess)'?" }
            throw .usage(message + "; one of: " + subcommands.joined(separator: ", "))
        }
    }

    static func address(_ text: String, option: String) throws(TTError) -> SocketAddress {
        do {
            let address = try SocketAddress.resolve(text)
            guard AddressGuard.allows(address) else {
                throw TTError(.unavailable, kind: "blocked", "\(text) is not a loopback address (\(AddressGuard.environmentVariable) is set)")
            }
            return address
        } catch let error as TTError {
            throw error
        } catch {
            throw .usage("\(option) needs HOST:PORT, got '\(text)'")
        }
    }

    static func target(_ text: String, _ invocation: Invocation) throws(TTError) -> NodeID {
        if let id = NodeID(hex: text) { return id }
        let input = try TorrentInput.load(text, invocation.environment, allowHashOnly: true)
        return NodeID(input.infoHashes.wire)!
    }
}

extension DHTNode.QueryFailure {
    var text: String {
        switch self {
        case .timeout: return "no reply"
        case .error(let code, let message): return "error \(code): \(message)"
        case .blocked(let why): return why
        }
    }
}
