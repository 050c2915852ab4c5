import Foundation
import Testing
import TestSupport

/// The test helpers that give started tools their ports (TestSupport/Ports.swift): a tool is accepted only
/// once it owns a listener on its port, a collision is retried on another, and a refusing port refuses.
@Suite struct TestPortsTests {
    @Test func startListeningAcceptsOnlyAProcessThatOwnsItsPortAndRetriesOtherwise() throws {
        var attempts: [[Int]] = []
        let server = try startListening("http.server", uses: [.tcp]) { ports in
            attempts.append(ports)
            // The first start fails as a tool does when someone else has its port: it exits.
            let arguments = attempts.count == 1 ? ["-c", "import sys; sys.exit(1)"]
                                                : ["-m", "http.server", "--bind", "127.0.0.1", String(ports[0])]
            return try ManagedProcess(RealTools.systemPython, arguments, label: "http.server")
        }
        defer { server.stop() }
        #expect(attempts.count == 2)
        #expect(server.port == attempts.last?.first)
        #expect(ownsListener(pid: server.pid, port: server.port, protocolName: "tcp"))
        #expect(!ownsListener(pid: server.pid, port: server.port, protocolName: "udp"))
        #expect(waitForTCP(port: server.port, timeout: 5))
    }

    @Test func startListeningGivesUpWithWhatEachAttemptSaid() {
        #expect(throws: PortCollision.self) {
            try startListening("a tool that never listens", uses: [.tcp], attempts: 2, timeout: 5) { _ in
                try ManagedProcess("/bin/sh", ["-c", "echo cannot bind; exit 3"], label: "sh")
            }
        }
    }

    @Test func aRefusingPortRefusesTCPAndUDPWhileHeld() throws {
        let refusing = RefusingPort(use: .tcpAndUDP)
        defer { refusing.close() }
        #expect(!waitForTCP(port: refusing.port, timeout: 0.2))
        // A datagram to it draws ICMP port unreachable: a connected UDP socket then reports ECONNREFUSED.
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(refusing.port).bigEndian
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        let size = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, size) } }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = send(fd, "x", 1, 0)
        var byte: UInt8 = 0
        let received = recv(fd, &byte, 1, 0)
        #expect(received < 0 && errno == ECONNREFUSED, "errno \(errno)")
        // Nobody else can listen there meanwhile.
        let other = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(other) }
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(other, $0, size) } }
        #expect(bound != 0)
    }
}
