import Synchronization

/// Single-producer single-consumer ring buffer of Float samples, lock-free and allocation-free
/// after init: the capture thread writes, the analysis thread reads. When the consumer falls
/// behind, `write` stores what fits and reports the rest as dropped (the producer must never block
/// on an audio thread). `@unchecked Sendable`: the storage is shared, but each slot is owned by
/// exactly one side at a time, handed over by the acquire/release counters.
public final class SPSCRingBuffer: @unchecked Sendable {
    public let capacity: Int
    private let storage: UnsafeMutablePointer<Float>
    // Monotonic counters (never wrap in practice: 2^63 samples); index = counter % capacity.
    private let written = Atomic<Int>(0)
    private let read = Atomic<Int>(0)

    public init(capacity: Int) {
        precondition(capacity > 0, "SPSCRingBuffer: capacity must be positive")
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
        storage.initialize(repeating: 0, count: capacity)
    }

    deinit { storage.deallocate() }

    /// Samples ready to read.
    public var available: Int { written.load(ordering: .acquiring) - read.load(ordering: .acquiring) }

    /// Producer side: appends as many samples as fit; returns how many were stored.
    @discardableResult
    public func write(_ samples: UnsafeBufferPointer<Float>) -> Int {
        let w = written.load(ordering: .relaxed), r = read.load(ordering: .acquiring)
        let n = min(samples.count, capacity - (w - r))
        copy(count: n, at: w) { i, j, len in (storage + i).update(from: samples.baseAddress! + j, count: len) }
        written.store(w + n, ordering: .releasing)
        return n
    }

    /// Consumer side: moves up to `destination.count` samples out; returns how many.
    @discardableResult
    public func read(into destination: UnsafeMutableBufferPointer<Float>) -> Int {
        let r = read.load(ordering: .relaxed), w = written.load(ordering: .acquiring)
        let n = min(destination.count, w - r)
        copy(count: n, at: r) { i, j, len in (destination.baseAddress! + j).update(from: storage + i, count: len) }
        read.store(r + n, ordering: .releasing)
        return n
    }

    /// Calls `move(ringIndex, linearIndex, length)` for the (at most two) contiguous pieces of
    /// `count` samples starting at counter `start`.
    private func copy(count: Int, at start: Int, _ move: (Int, Int, Int) -> Void) {
        guard count > 0 else { return }
        let i = start % capacity, first = min(count, capacity - i)
        move(i, 0, first)
        if count > first { move(0, first, count - first) }
    }
}
