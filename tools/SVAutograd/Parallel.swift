import Dispatch
import SVKernels

/// Work splitting for the graph's ops. An op divides its independent units (elements, rows, channels,
/// samples) into `workers` contiguous ranges, one per thread. Each unit is computed by one thread in the
/// order a single thread would use, so an op whose units write only their own outputs gives the same
/// values bit for bit whatever the worker count; ops that sum across units (a convolution's weight
/// gradient) add the workers' partial sums in worker order: repeatable for a given count.
struct WorkSplit {
    let workers: Int
    /// Scalar operations below which a worker is not worth waking (a hand-off costs microseconds).
    var minimumWork = 1 << 15

    /// The `part`-th of `parts` contiguous ranges of `0..<count` (the first `count % parts` one longer).
    static func range(_ count: Int, parts: Int, part: Int) -> Range<Int> {
        let base = count / parts, extra = count % parts
        let start = part * base + min(part, extra)
        return start..<(start + base + (part < extra ? 1 : 0))
    }

    /// How many workers `count` units of about `cost` scalar operations each deserve: none gets
    /// less than `minimumWork` operations.
    func parts(_ count: Int, cost: Int) -> Int {
        guard workers > 1, count > 1 else { return 1 }
        return max(1, min(workers, count, (count * max(cost, 1)) / minimumWork))
    }

    /// Runs `body(range, part)` over a split of `0..<count`, in parallel when it pays.
    /// `cost`: scalar operations per unit.
    func run(_ count: Int, cost: Int, _ body: (Range<Int>, Int) -> Void) {
        let parts = parts(count, cost: cost)
        if parts == 1 {
            if count > 0 { body(0..<count, 0) }
            return
        }
        // The parts write disjoint outputs; the box only carries the closure to the pool's threads.
        withoutActuallyEscaping(body) { body in
            let task = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                task.value(Self.range(count, parts: parts, part: part), part)
            }
        }
    }
}

extension WorkSplit {
    /// Runs `body` with one OpenBLAS thread when an op splits its GEMMs over `parts` > 1 workers
    /// (each worker's GEMMs then run on its own thread); otherwise with the caller's setting.
    static func inSplitBLAS(_ parts: Int, _ body: () -> Void) {
        if parts > 1 { BLAS.withThreads(1, body) } else { body() }
    }
}

struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// A mutable float buffer that parallel workers write at disjoint indices.
struct SharedFloats: @unchecked Sendable {
    let base: UnsafeMutablePointer<Float>

    init(base: UnsafeMutablePointer<Float>) { self.base = base }

    /// A buffer's storage (an empty buffer has no address: a dummy one nobody reads).
    init(_ buffer: UnsafeMutableBufferPointer<Float>) {
        base = buffer.baseAddress ?? UnsafeMutablePointer(bitPattern: MemoryLayout<Float>.alignment)!
    }

    @inline(__always) subscript(i: Int) -> Float {
        get { base[i] }
        nonmutating set { base[i] = newValue }
    }
}

extension Graph {
    var split: WorkSplit { WorkSplit(workers: workers, minimumWork: minimumParallelWork) }

    /// A new array of `count` floats whose every element `fill` writes, over parallel ranges
    /// (`cost`: operations per element). The array is not zeroed first.
    func parallelArray(_ count: Int, cost: Int = 4, _ fill: (SharedFloats, Range<Int>) -> Void) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            let out = SharedFloats(buffer)
            split.run(count, cost: cost) { range, _ in fill(out, range) }
            initialized = count
        }
    }

    /// A new array of `blocks` × `size` floats; `fill(out, b)` writes all of block b (blocks split
    /// over the workers; `cost`: operations per block, `size` when nil). The array is not zeroed first.
    func parallelBlocks(_ blocks: Int, of size: Int, cost: Int? = nil, _ fill: (SharedFloats, Int) -> Void) -> [Float] {
        [Float](unsafeUninitializedCapacity: blocks * size) { buffer, initialized in
            let out = SharedFloats(buffer)
            split.run(blocks, cost: cost ?? size) { range, _ in for b in range { fill(out, b) } }
            initialized = blocks * size
        }
    }
}

extension Variable {
    /// `accumulateGrad` whose first call zero-fills the new buffer over the split's workers (a
    /// gradient is as large as its activation; one thread clearing it is a serial pass per op).
    func accumulateGrad(_ split: WorkSplit, _ body: (UnsafeMutablePointer<Float>) -> Void) {
        if grad == nil {
            let n = count
            grad = [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
                let out = SharedFloats(buffer)
                split.run(n, cost: 1) { range, _ in (out.base + range.lowerBound).initialize(repeating: 0, count: range.count) }
                initialized = n
            }
        }
        accumulateGrad(body)
    }
}

/// Scratch space whose every element is written before it is read (im2col columns, GEMM outputs
/// with β = 0): not zeroed.
func scratchFloats(_ count: Int) -> [Float] {
    [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
}
