/// A tape of recorded ops for one forward/backward pass.
///
/// Ops are methods of `Graph` (`Graph+*.swift`); each computes its output and, when recording and
/// some input requires a gradient, appends a backward closure that accumulates (`+=`) into its
/// inputs' gradients. `backward(from:)` runs the closures in reverse order. Make a new graph per
/// step (or call `reset()`); parameters persist across graphs.
public final class Graph {
    /// Train mode (batch statistics in batch norm, running-stat updates) or eval mode.
    public var training: Bool
    /// False: no-grad mode — nothing is recorded and outputs never require gradients.
    public let recording: Bool
    /// Threads the ops split their work over (`Parallel.swift`); GEMMs inside split ops run on one
    /// OpenBLAS thread each. 1: everything on the calling thread.
    public let workers: Int
    /// The least work (scalar operations) an op hands to one worker; tests lower it to split small tensors.
    var minimumParallelWork = 1 << 15

    private struct Node { let output: Variable; let backward: () -> Void }
    private var tape: [Node] = []
    private var backwardDone = false

    public init(training: Bool = true, recording: Bool = true, workers: Int = 1) {
        precondition(workers >= 1, "Graph: workers must be at least 1, got \(workers)")
        self.training = training
        self.recording = recording
        self.workers = workers
    }

    /// Number of recorded ops.
    public var count: Int { tape.count }

    /// Drops the tape (and with it the activations it keeps alive).
    public func reset() { tape.removeAll(keepingCapacity: true); backwardDone = false }

    /// Wraps `value` as the output of an op on `inputs`; records `backward` when gradients flow.
    /// `backward` receives the output variable, whose `grad` is set when it runs.
    func record(_ value: Tensor, inputs: [Variable], backward: @escaping (Variable) -> Void) -> Variable {
        let needs = recording && inputs.contains { $0.requiresGrad }
        let out = Variable(value, role: .activation, requiresGrad: needs)
        if needs { tape.append(Node(output: out, backward: { backward(out) })) }
        return out
    }

    /// Backpropagates from a scalar (one-element) loss with seed 1.
    public func backward(from loss: Variable) {
        precondition(loss.count == 1, "backward(from:): the loss must have one element, got shape \(loss.shape)")
        backward(from: loss, seed: [1])
    }

    /// Backpropagates `seed` (same count as `output`) from `output`: the vector–Jacobian product.
    /// Once per graph (activation gradients would otherwise be counted twice); parameter
    /// gradients accumulate across graphs until `zeroGrad()`.
    public func backward(from output: Variable, seed: [Float]) {
        precondition(seed.count == output.count, "backward: seed has \(seed.count) values, output \(output.count)")
        precondition(!backwardDone, "backward: this graph was already backpropagated; build a new graph per step")
        backwardDone = true
        guard output.requiresGrad else { return }
        output.accumulateGrad { g in for i in 0..<seed.count { g[i] += seed[i] } }
        for node in tape.reversed() where node.output.grad != nil {
            node.backward()
        }
    }
}

/// Product of a shape's dimensions.
@inline(__always) func product<S: Sequence<Int>>(_ s: S) -> Int { s.reduce(1, *) }
