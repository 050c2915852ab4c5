/// The event loop's timers: a binary min-heap ordered by due time, then by the order they were
/// scheduled, so timers due at the same instant always fire in the same order (the simulation
/// relies on that to be reproducible). Cancelled timers are dropped lazily when they surface.
struct TimerQueue {
    struct Timer {
        let id: Int
        let due: Double
        let action: () -> Void
    }

    private var heap: [Timer] = []
    private var live: Set<Int> = []
    private var nextID = 0

    /// Timers scheduled and neither fired nor cancelled.
    var count: Int { live.count }
    var isEmpty: Bool { live.isEmpty }

    mutating func add(due: Double, _ action: @escaping () -> Void) -> Int {
        nextID += 1
        live.insert(nextID)
        heap.append(Timer(id: nextID, due: due, action: action))
        siftUp(heap.count - 1)
        return nextID
    }

    mutating func cancel(_ id: Int) { live.remove(id) }

    /// The earliest due time of a live timer.
    mutating func nextDue() -> Double? {
        dropCancelled()
        return heap.first?.due
    }

    /// Takes the timers due at or before `time` off the heap, earliest first. They stay live until
    /// `claim`ed, so one of them can still cancel a later one in the same turn.
    mutating func popDue(upTo time: Double) -> [Timer] {
        var due: [Timer] = []
        while true {
            dropCancelled()
            guard let first = heap.first, first.due <= time else { break }
            due.append(popFirst())
        }
        return due
    }

    /// Marks a popped timer as fired; false when it was cancelled meanwhile.
    mutating func claim(_ id: Int) -> Bool { live.remove(id) != nil }

    private mutating func dropCancelled() {
        while let first = heap.first, !live.contains(first.id) { _ = popFirst() }
    }

    private mutating func popFirst() -> Timer {
        let first = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            siftDown(0)
        }
        return first
    }

    private static func earlier(_ a: Timer, _ b: Timer) -> Bool {
        a.due != b.due ? a.due < b.due : a.id < b.id
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.earlier(heap[child], heap[parent]) else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count && Self.earlier(heap[left], heap[smallest]) { smallest = left }
            if right < heap.count && Self.earlier(heap[right], heap[smallest]) { smallest = right }
            guard smallest != parent else { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
