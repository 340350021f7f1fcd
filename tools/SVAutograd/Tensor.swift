import SVKernels

/// A dense row-major Float tensor. Storage is a Swift array (copy-on-write); values recorded on a
/// tape are never mutated in place, except batch-norm running statistics (buffers) and parameters
/// between steps (by an optimiser).
public struct Tensor: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
        precondition(shape.reduce(1, *) == values.count,
                     "Tensor: shape \(shape) needs \(shape.reduce(1, *)) values, got \(values.count)")
        self.shape = shape
        self.values = values
    }

    public init(zeros shape: [Int]) { self.init(shape: shape, values: [Float](repeating: 0, count: shape.reduce(1, *))) }

    public init(shape: [Int], repeating value: Float) {
        self.init(shape: shape, values: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    /// Uniform values in [lo, hi) from a seeded generator.
    public init(shape: [Int], uniform lo: Float, _ hi: Float, rng: inout SplitMix64) {
        let n = shape.reduce(1, *)
        var v = [Float](repeating: 0, count: n)
        for i in 0..<n { v[i] = lo + (hi - lo) * rng.nextFloat() }
        self.init(shape: shape, values: v)
    }

    /// A scalar (shape `[]`).
    public init(scalar: Float) { self.init(shape: [], values: [scalar]) }

    public var count: Int { values.count }
    public var rank: Int { shape.count }
}

/// A node value on (or off) a tape: a tensor plus its gradient.
///
/// Parameters and buffers (batch-norm running statistics) live across steps and graphs;
/// activations are created by `Graph` ops. Gradients accumulate (`+=`) until `zeroGrad()`.
public final class Variable {
    public enum Role: Sendable, Equatable {
        /// Trainable: receives gradients, updated by an optimiser.
        case parameter
        /// Persistent state updated by the forward pass (running mean/var), never differentiated.
        case buffer
        /// Output of a graph op.
        case activation
        /// Input data.
        case constant
    }

    public var value: Tensor
    /// Same count as `value`; nil until a backward pass writes to it.
    public var grad: [Float]?
    public let role: Role
    /// Whether backward passes propagate into this variable.
    public var requiresGrad: Bool
    /// The reference toolkit's `state_dict` name for parameters and buffers.
    public var name: String

    public init(_ value: Tensor, role: Role = .constant, requiresGrad: Bool? = nil, name: String = "") {
        self.value = value
        self.role = role
        self.requiresGrad = requiresGrad ?? (role == .parameter)
        self.name = name
    }

    public static func parameter(_ value: Tensor, name: String = "") -> Variable {
        Variable(value, role: .parameter, name: name)
    }

    public static func buffer(_ value: Tensor, name: String = "") -> Variable {
        Variable(value, role: .buffer, requiresGrad: false, name: name)
    }

    public var shape: [Int] { value.shape }
    public var count: Int { value.count }
    public var values: [Float] { value.values }

    /// The gradient as a tensor (zeros if none was written).
    public var gradTensor: Tensor { Tensor(shape: shape, values: grad ?? [Float](repeating: 0, count: count)) }

    public func zeroGrad() { grad = nil }

    /// Runs `body` on the gradient buffer, allocating it as zeros first; `body` must accumulate.
    @inline(__always)
    func accumulateGrad(_ body: (UnsafeMutablePointer<Float>) -> Void) {
        if grad == nil { grad = [Float](repeating: 0, count: count) }
        grad!.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
    }
}
