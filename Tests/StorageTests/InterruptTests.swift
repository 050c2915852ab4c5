import Foundation
import TestSupport
import Testing

@Suite struct InterruptTests {
    /// A 4 GiB sparse file and a torrent whose hashes are all zeros: long enough to interrupt.
    @Test func ctrlCStopsCleanlyWithExit130() throws {
        let directory = TemporaryDirectory()
        let size: Int64 = 4 << 30
        let data = directory.file("big")
        let fd = open(data, O_CREAT | O_WRONLY, 0o644)
        #expect(ftruncate(fd, off_t(size)) == 0)
        close(fd)
        let pieces = Int(size >> 20)
        var torrent = Array("d4:infod6:lengthi\(size)e4:name3:big12:piece lengthi\(1 << 20)e6:pieces\(pieces * 20):".utf8)
        torrent += [UInt8](repeating: 0, count: pieces * 20)
        torrent += Array("ee".utf8)
        let torrentPath = directory.write("big.torrent", torrent)

        #expect(FileManager.default.isExecutableFile(atPath: ttExecutable), "build tt first (swift build)")
        let child = try ManagedProcess(ttExecutable, ["verify", "--json", "--progress", "-t", torrentPath, data])
        let sawProgress = child.waitForOutput("\"event\":\"progress\"", timeout: 30)
        #expect(sawProgress, "no progress event: \(child.log)")
        kill(child.pid, SIGINT)
        let status = child.wait(timeout: 60)
        #expect(child.process.terminationReason == .exit)
        #expect(status == 130, "\(child.log)")
        #expect(child.log.contains("interrupted after checking"))
        #expect(child.log.contains("\"kind\":\"interrupted\""))
    }
}
