import Glibc
import Net
import Synchronization
import Testing

/// What `tt` uses instead of Foundation's Process, Thread and NSCondition (README "Footprint").
@Suite struct ProcessAndThreadTests {
    @Test func childProcessRunsInItsFolderAndBothStreamsAreRead() throws {
        // More than a pipe holds on stderr before stdout ends: reading one stream at a time would hang.
        let script = "pwd; head -c 200000 /dev/zero | tr '\\000' e >&2; echo done; exit 3"
        let child = try ChildProcess(executable: "/bin/sh", arguments: ["-c", script], directory: "/tmp",
                                     stdout: .pipe, stderr: .pipe)
        let (out, err) = child.readToEnd()
        #expect(String(decoding: out, as: UTF8.self) == "/tmp\ndone\n")
        #expect(err.count == 200_000 && err.allSatisfy { $0 == UInt8(ascii: "e") })
        #expect(child.wait() == 3)
        #expect(!child.isRunning)
    }

    @Test func aSignalledChildReports128PlusTheSignal() throws {
        let child = try ChildProcess(executable: "/bin/sleep", arguments: ["30"], directory: "/", stdout: .discard, stderr: .discard)
        #expect(child.isRunning)
        child.signal(SIGTERM)
        #expect(child.wait() == 128 + SIGTERM)
    }

    @Test func aMissingExecutableIsAnErrorWithTheReason() {
        #expect(throws: NetError.self) {
            _ = try ChildProcess(executable: "/nonexistent/tt", arguments: [], directory: "/", stdout: .pipe, stderr: .inherit)
        }
        do {
            _ = try ChildProcess(executable: "/nonexistent/tt", arguments: [], directory: "/", stdout: .pipe, stderr: .inherit)
        } catch {
            #expect("\(error)".contains("No such file or directory"))
        }
    }

    @Test func detachedThreadRunsAndConditionWakesTheWaiter() {
        let condition = Condition()
        let done = Mutex(false)
        #expect(startDetachedThread(name: "tt-test") {
            condition.withLock {
                done.withLock { $0 = true }
                condition.broadcast()
            }
        })
        let deadline = monotonicSeconds() + 10
        condition.lock()
        while !done.withLock({ $0 }) && monotonicSeconds() < deadline { condition.wait(until: deadline) }
        condition.unlock()
        #expect(done.withLock { $0 })
    }

    @Test func conditionWaitReturnsFalseAtItsDeadline() {
        let condition = Condition()
        let start = monotonicSeconds()
        condition.lock()
        let woken = condition.wait(until: start + 0.05)
        condition.unlock()
        #expect(!woken)
        #expect(monotonicSeconds() - start >= 0.05)
    }
}
