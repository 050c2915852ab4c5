import Net
import PeerWire
import Swarm
import Testing
@testable import TTCommands

/// The one mapping from module errors to exit codes (README "Exit codes"), in the command layer.
@Suite struct ExitCodeMappingTests {
    @Test func networkFailures() {
        #expect(TTError(net: .badAddress("x")).code == .usage)
        #expect(TTError(net: .refused(address: "x")).code == .unavailable)
        #expect(TTError(net: .unreachable(address: "x", reason: "no route")).code == .unavailable)
        #expect(TTError(net: .dns(host: "x", reason: "unknown")).code == .unavailable)
        #expect(TTError(net: .timeout(what: "x")).code == .timeout)
        #expect(TTError(net: .closed(address: "x")).code == .protocolError)
        #expect(TTError(net: .system(operation: "x", reason: "y")).code == .ioError)
    }

    @Test func swarmAndPeerFailures() {
        #expect(TTError(swarm: .badTorrent("x")).code == .dataError)
        #expect(TTError(swarm: .noPeers("x")).code == .unavailable)
        #expect(TTError(swarm: .storage("x")).code == .ioError)
        #expect(TTError(swarm: .nothingToServe("x")).code == .checkFailed)
        #expect(TTError(swarm: .connect(.refused(address: "x"))).code == .unavailable)
        #expect(TTError(swarm: .peerProtocol(peer: "p", .unknownMessage(id: 99, length: 1))).code == .protocolError)
        #expect(TTError(swarm: .peerClosed(peer: "p", beforeHandshake: true, waitingFor: "x", error: nil)).code == .protocolError)
        #expect(TTError(swarm: .peerTimeout(peer: "p", waitingFor: "x")).code == .timeout)
        #expect(TTError(swarm: .noMetadata([])).code == .unavailable)
    }
}
