import Dispatch
import Foundation
import Glibc
import Synchronization
import Testing
@testable import Net

@Suite struct EventLoopExecuteTests {
    @Test func tasksFromOtherThreadsRunOnTheLoopInOrder() {
        let loop = EventLoop()
        let loopThread = pthread_self()
        let seen = LoopBoundBox<[Int]>([], loop: loop)
        let onLoopThread = LoopBoundBox(true, loop: loop)
        let perThread = 500
        let done = Atomic<Int>(0)
        // Two threads each hand over 0..<500; every task must run on the loop, each thread's in order.
        for thread in 0..<2 {
            Thread {
                for index in 0..<perThread {
                    loop.execute {
                        onLoopThread.value = onLoopThread.value && pthread_equal(pthread_self(), loopThread) != 0
                        seen.value.append(thread * 10_000 + index)
                        if seen.value.count == 2 * perThread { loop.stop() }
                    }
                }
                done.add(1, ordering: .relaxed)
            }.start()
        }
        loop.schedule(after: 20) { loop.stop() }   // a watchdog: the test fails rather than hangs
        loop.run()
        #expect(seen.value.count == 2 * perThread)
        #expect(onLoopThread.value)
        for thread in 0..<2 {
            let mine = seen.value.filter { $0 / 10_000 == thread }.map { $0 % 10_000 }
            #expect(mine == Array(0..<perThread))
        }
    }

    @Test func executeWakesALoopThatIsWaiting() {
        let loop = EventLoop()
        let woke = LoopBoundBox(0.0, loop: loop)
        let start = monotonicSeconds()
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.05) {
            loop.execute { woke.value = monotonicSeconds() - start; loop.stop() }
        }
        // The loop has a timer 30 s out; only the wake-up can end it sooner.
        loop.schedule(after: 30) { loop.stop() }
        loop.run()
        #expect(woke.value > 0 && woke.value < 5)
    }

    @Test func executeFromTheLoopRunsOnALaterTurn() {
        let loop = EventLoop()
        let order = LoopBoundBox<[String]>([], loop: loop)
        loop.schedule(after: 0) {
            loop.execute { order.value.append("task") }
            order.value.append("timer")
        }
        loop.runOnce(timeout: 1)
        #expect(order.value == ["timer"])
        #expect(loop.hasWork)
        loop.runOnce(timeout: 1)
        #expect(order.value == ["timer", "task"])
        #expect(!loop.hasWork)
    }

    @Test func threadCheckKnowsTheLoopThread() {
        let loop = EventLoop()
        #expect(loop.inLoop)
        let bound = LoopBound(41, loop: loop)
        #expect(bound.value == 41)
        let elsewhere = Mutex<Bool?>(nil)
        let thread = Thread { elsewhere.withLock { $0 = loop.inLoop } }
        thread.start()
        let deadline = Deadline.after(10)
        while elsewhere.withLock({ $0 }) == nil && !deadline.hasPassed { usleep(1000) }
        #expect(elsewhere.withLock { $0 } == false)
    }

    @Test func offloadRunsWorkOffTheLoopAndCompletesOnIt() {
        let loop = EventLoop()
        let loopThread = pthread_self()
        var result: (Int, Bool, Bool)?
        loop.offload({ (21 * 2, pthread_equal(pthread_self(), loopThread) != 0) }) { value, workOnLoop in
            result = (value, workOnLoop, loop.inLoop)
            loop.stop()
        }
        loop.schedule(after: 20) { loop.stop() }
        loop.run()
        #expect(result?.0 == 42)
        #expect(result?.1 == false)   // the work ran on another thread
        #expect(result?.2 == true)    // the completion on the loop
    }
}

@Suite struct EventLoopVirtualClockTests {
    @Test func tenMinutesOfTimersRunAtOnceInOrder() {
        let loop = EventLoop(clock: .virtual(start: 1000))
        var fired: [(Int, Double)] = []
        // A 30 s rotation for ten minutes, a 1 s tick, and timers due at the same instant.
        func rotate() {
            fired.append((0, loop.now))
            if loop.now < 1600 { loop.schedule(after: 30) { rotate() } }
        }
        loop.schedule(after: 30) { rotate() }
        var ticks = 0
        func tick() { ticks += 1; if ticks < 600 { loop.schedule(after: 1) { tick() } } }
        tick()
        for index in 1...3 { loop.schedule(at: 1500) { fired.append((index, loop.now)) } }
        let start = monotonicSeconds()
        loop.run()
        #expect(monotonicSeconds() - start < 2)
        #expect(ticks == 600)
        #expect(loop.now == 1600)
        let rotations = fired.filter { $0.0 == 0 }.map(\.1)
        #expect(rotations == stride(from: 1030.0, through: 1600, by: 30).map { $0 })
        #expect(fired.filter { $0.0 > 0 }.map(\.0) == [1, 2, 3])
        #expect(fired.filter { $0.0 > 0 }.allSatisfy { $0.1 == 1500 })
    }

    @Test func sameScheduleGivesTheSameOrderEveryRun() {
        func trace() -> [String] {
            let loop = EventLoop(clock: .virtual(start: 0))
            var log: [String] = []
            var generator = SplitMix(seed: 7)
            for peer in 0..<50 {
                func send(_ count: Int) {
                    log.append("\(peer)@\(loop.now)")
                    if count > 0 { loop.schedule(after: Double(generator.next() % 1000) / 1000) { send(count - 1) } }
                }
                loop.schedule(after: Double(generator.next() % 100) / 100) { send(20) }
            }
            loop.run()
            return log
        }
        let first = trace()
        #expect(first.count == 50 * 21)
        #expect(trace() == first)
    }

    @Test func runUntilStopsAtTheGivenTimeAndTimeoutsMoveTheClock() {
        let loop = EventLoop(clock: .virtual(start: 100))
        var fired: [Double] = []
        loop.schedule(after: 5) { fired.append(loop.now) }
        loop.schedule(after: 50) { fired.append(loop.now) }
        loop.run(until: 120)
        #expect(fired == [105])
        #expect(loop.now == 120)
        // With nothing due within the timeout, one turn moves the clock by the timeout.
        loop.runOnce(timeout: 3)
        #expect(loop.now == 123 && fired == [105])
        loop.runOnce(timeout: 60)
        #expect(loop.now == 150 && fired == [105, 150])
        // Nothing scheduled: run(until:) still arrives.
        loop.run(until: 1000)
        #expect(loop.now == 1000)
    }

    @Test func readyWorkRunsBeforeTheClockMoves() {
        let loop = EventLoop(clock: .virtual(start: 0))
        let log = LoopBoundBox<[String]>([], loop: loop)
        loop.schedule(after: 10) { log.value.append("timer \(loop.now)") }
        loop.execute { log.value.append("task \(loop.now)") }
        loop.runOnce(timeout: nil)
        #expect(log.value == ["task 0.0"])
        loop.runOnce(timeout: nil)
        #expect(log.value == ["task 0.0", "timer 10.0"])
    }

    @Test func aTimerCanCancelAnotherDueInTheSameTurn() {
        let loop = EventLoop(clock: .virtual(start: 0))
        var fired: [Int] = []
        var second: EventLoop.TimerID?
        loop.schedule(at: 5) { fired.append(1); second.map(loop.cancel) }
        second = loop.schedule(at: 5) { fired.append(2) }
        loop.run()
        #expect(fired == [1])
    }

    @Test func offloadRunsInlineOnAVirtualClock() {
        let loop = EventLoop(clock: .virtual(start: 0))
        var log: [String] = []
        loop.offload({ 7 }) { value in log.append("done \(value) at \(loop.now)") }
        loop.schedule(after: 1) { log.append("timer") }
        loop.run()
        #expect(log == ["done 7 at 0.0", "timer"])
    }
}

/// A tiny deterministic generator for the tests above.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
