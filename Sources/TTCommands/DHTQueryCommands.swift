import DHT
import JSON
import Net

/// The one-off `tt dht` commands: each sets up a `DHTSession`, asks, and renders what came back.
enum DHTQueryCommands {
    // MARK: - ping

    static func ping(_ invocation: Invocation, _ target: String) throws(TTError) -> ExitCode {
        let address = try DHTCommand.address(target, option: "ping")
        let session = try DHTSession(invocation, readOnly: true, defaultTimeout: 5)
        var outcome: Result<(KRPCResponse, KRPCMessage), DHTNode.QueryFailure>?
        var rtt = 0.0
        let sent = monotonicSeconds()
        session.node.send(.ping(id: session.node.ownID), to: address, timeout: session.deadline) { result in
            rtt = monotonicSeconds() - sent
            outcome = result
            session.finished()
        }
        session.run()
        if session.interrupted { throw TTError(.interrupted, kind: "interrupted", "interrupted") }
        switch outcome {
        case .success(let (response, message))?:
            let node = NodeInfo(id: response.id, address: address)
            session.emit([
                JSONField("node", DHTViews.node(node, version: message.version)),
                JSONField("ip", .optional(message.observedAddress?.description)),
                JSONField("rtt", DHTViews.seconds(rtt)),
            ]) {
                let version = message.version.map { " (\(ClientVersion.describe($0)))" } ?? ""
                let observed = message.observedAddress.map { ", sees us as \($0)" } ?? ""
                return "\(address) id \(response.id.hex)\(version) rtt \(Format.format1(rtt * 1000)) ms\(observed)"
            }
            return .success
        case .failure(.error(let code, let text))?:
            throw TTError(.protocolError, kind: "krpc_error", "\(address) answered error \(code): \(text)")
        case .failure(.blocked(let why))?:
            throw TTError(.unavailable, kind: "blocked", why)
        default:
            throw TTError(.timeout, kind: "timeout", "\(address): no reply to ping within \(session.deadline) s")
        }
    }

    // MARK: - find-node

    static func findNode(_ invocation: Invocation, _ text: String) throws(TTError) -> ExitCode {
        guard let target = NodeID(hex: text) else { throw .usage("find-node needs a 40-hex TARGET, got '\(text)'") }
        let one = try invocation.arguments.value("--node").map { (t: String) throws(TTError) in try DHTCommand.address(t, option: "--node") }
        let session = try DHTSession(invocation, readOnly: true, defaultTimeout: one == nil ? 30 : 5)
        var nodes: [(NodeInfo, [UInt8]?)] = []
        var contacted = 0, replied = 0
        var failure: DHTNode.QueryFailure?
        if let one {
            session.node.send(.findNode(id: session.node.ownID, target: target, want: []), to: one, timeout: session.deadline) { result in
                contacted = 1
                switch result {
                case .success(let (response, _)):
                    replied = 1
                    nodes = response.allNodes.sorted { target.isCloser($0.id, than: $1.id) }.map { ($0, nil) }
                case .failure(let why): failure = why
                }
                session.finished()
            }
        } else {
            try requireContacts(session)
            session.node.lookup(target, kind: .findNode) { lookup in
                nodes = lookup.closestReplied().map { ($0.node, $0.version) }
                contacted = lookup.queriesSent
                replied = lookup.repliesReceived
                session.finished()
            }
        }
        session.run()
        try checkEnd(session, replied: replied, failure: failure)
        session.emit([
            JSONField("target", .string(target.hex)),
            JSONField("nodes", .array(nodes.map { DHTViews.node($0.0, version: $0.1, distanceTo: target) })),
            JSONField("nodes_contacted", .int(contacted)), JSONField("nodes_replied", .int(replied)),
            JSONField("duration", DHTViews.seconds(session.elapsed)),
        ]) {
            nodes.map { "\($0.0.id.hex) \($0.0.address) distance \($0.0.id.distance(to: target).hex)" }.joined(separator: "\n")
        }
        return .success
    }

    // MARK: - get-peers

    static func getPeers(_ invocation: Invocation, _ text: String) throws(TTError) -> ExitCode {
        let target = try DHTCommand.target(text, invocation)
        let session = try DHTSession(invocation, readOnly: true)
        try requireContacts(session)
        var firstPeer: Double?
        var finished: Lookup?
        session.node.lookup(target, kind: .getPeers, onPeers: { _, _ in
            if firstPeer == nil { firstPeer = session.elapsed }
        }) { lookup in
            finished = lookup
            session.finished()
        }
        session.run()
        let lookup = finished
        try checkEnd(session, replied: lookup?.repliesReceived ?? 0, failure: nil)
        let peers = lookup?.peers ?? []
        session.emit([
            JSONField("info_hash", .string(target.hex)),
            JSONField("peers", .array(peers.map { DHTViews.peer($0.peer, from: $0.from) })),
            JSONField("nodes", .array((lookup?.closestReplied() ?? []).map { DHTViews.node($0.node, version: $0.version, distanceTo: target) })),
            JSONField("nodes_contacted", .int(lookup?.queriesSent ?? 0)), JSONField("nodes_replied", .int(lookup?.repliesReceived ?? 0)),
            JSONField("time_to_first_peer", firstPeer.map(DHTViews.seconds) ?? .null),
            JSONField("duration", DHTViews.seconds(session.elapsed)),
        ]) {
            peers.isEmpty ? "no peers for \(target.hex) (\(lookup?.repliesReceived ?? 0) nodes answered)"
                : peers.map { "\($0.peer) (from \($0.from.address))" }.joined(separator: "\n")
        }
        return .success
    }

    // MARK: - announce

    static func announce(_ invocation: Invocation, _ text: String) throws(TTError) -> ExitCode {
        let target = try DHTCommand.target(text, invocation)
        let implied = invocation.arguments.has("--implied-port")
        guard let announced = try invocation.arguments.integer("--port", in: 1...65535) ?? (implied ? 0 : nil) else {
            throw .usage("tt dht announce needs --port N (the peer port to announce) or --implied-port")
        }
        // The node itself binds a free port: --port names the announced peer port here.
        var arguments = invocation.arguments
        arguments.values["--port"] = nil
        let session = try DHTSession(Invocation(arguments: arguments, environment: invocation.environment), readOnly: true)
        try requireContacts(session)
        var results: [DHTNode.AnnounceResult] = []
        var finished: Lookup?
        session.node.announce(target, port: UInt16(announced), impliedPort: implied) { lookup, outcome in
            finished = lookup
            results = outcome
            session.finished()
        }
        session.run()
        try checkEnd(session, replied: finished?.repliesReceived ?? 0, failure: nil)
        let accepted = results.filter(\.accepted)
        session.emit([
            JSONField("info_hash", .string(target.hex)),
            JSONField("port", .int(announced)),
            JSONField("implied_port", .bool(implied)),
            JSONField("accepted", .array(accepted.map { DHTViews.node($0.node) })),
            JSONField("refused", .array(results.filter { !$0.accepted }.map {
                .object([JSONField("node", DHTViews.node($0.node)), JSONField("error", .string($0.failure!.text))])
            })),
            JSONField("peers", .array((finished?.peers ?? []).map { DHTViews.peer($0.peer, from: $0.from) })),
            JSONField("duration", DHTViews.seconds(session.elapsed)),
        ]) {
            "announced \(target.hex) port \(announced) to \(accepted.count) of \(results.count) nodes"
        }
        return accepted.isEmpty ? .unavailable : .success
    }

    // MARK: - sample

    static func sample(_ invocation: Invocation, _ text: String?) throws(TTError) -> ExitCode {
        let one = try text.map { (t: String) throws(TTError) in try DHTCommand.address(t, option: "sample") }
        let session = try DHTSession(invocation, readOnly: true, defaultTimeout: one == nil ? 30 : 5)
        var answers: [(NodeInfo?, SocketAddress, Result<KRPCResponse, DHTNode.QueryFailure>)] = []
        func ask(_ addresses: [(NodeInfo?, SocketAddress)]) {
            guard !addresses.isEmpty else { session.finished(); return }
            for (node, address) in addresses {
                session.node.send(.sampleInfohashes(id: session.node.ownID, target: .random()), to: address) { result in
                    answers.append((node, address, result.map(\.0)))
                    if answers.count == addresses.count { session.finished() }
                }
            }
        }
        if let one {
            ask([(nil, one)])
        } else {
            try requireContacts(session)
            session.node.lookup(.random(), kind: .findNode) { lookup in ask(lookup.closestReplied().map { ($0.node, $0.node.address) }) }
        }
        session.run()
        let replied = answers.filter { if case .success = $0.2 { return true } else { return false } }
        try checkEnd(session, replied: replied.count, failure: one != nil ? answers.first.flatMap { if case .failure(let f) = $0.2 { return f } else { return nil } } : nil)
        let views: [JSONValue] = answers.map { node, address, result in
            switch result {
            case .success(let response):
                return .object([JSONField("node", DHTViews.node(NodeInfo(id: response.id, address: address))),
                                JSONField("info_hashes", .array(response.samples.map { .string($0.hex) })),
                                JSONField("num", .optional(response.num)), JSONField("interval", .optional(response.interval))])
            case .failure(let why):
                return .object([JSONField("node", node.map { DHTViews.node($0) } ?? .object(PeerView.fields(address))),
                                JSONField("error", .string(why.text))])
            }
        }
        session.emit([JSONField("samples", .array(views)), JSONField("duration", DHTViews.seconds(session.elapsed))]) {
            answers.map { _, address, result in
                switch result {
                case .success(let response):
                    return "\(address): \(response.num ?? response.samples.count) info hashes" + response.samples.map { "\n  \($0.hex)" }.joined()
                case .failure(let why): return "\(address): \(why.text)"
                }
            }.joined(separator: "\n")
        }
        return .success
    }

    // MARK: - shared endings

    static func requireContacts(_ session: DHTSession) throws(TTError) {
        let node = session.node
        guard node.state.table.count > 0 || !node.configuration.bootstrap.isEmpty || !node.savedContacts.isEmpty else {
            throw TTError(.unavailable, kind: "no_contacts", "no DHT node to ask: give --bootstrap HOST:PORT")
        }
    }

    static func checkEnd(_ session: DHTSession, replied: Int, failure: DHTNode.QueryFailure?) throws(TTError) {
        if session.interrupted { throw TTError(.interrupted, kind: "interrupted", "interrupted") }
        if case .error(let code, let text)? = failure { throw TTError(.protocolError, kind: "krpc_error", "error \(code): \(text)") }
        if case .blocked(let why)? = failure { throw TTError(.unavailable, kind: "blocked", why) }
        guard replied > 0 else {
            if session.timedOut { throw TTError(.timeout, kind: "timeout", "no DHT node answered within \(session.deadline) s") }
            throw TTError(.unavailable, kind: "no_reply", "no DHT node answered")
        }
    }
}
