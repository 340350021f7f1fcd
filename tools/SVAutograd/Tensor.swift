/// A dense row-major Float tensor for training. Storage is a Swift array (copy-on-write); the
/// training graph keeps activations alive on its tape, so values are never mutated in place once
/// recorded.
public struct Tensor: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "Tensor: shape \(shape) needs \(shape.reduce(1, *)) values, got \(values.count)")
        self.shape = shape
        self.values = values
    }

    public init(zeros shape: [Int]) { self.init(shape: shape, values: [Float](repeating: 0, count: shape.reduce(1, *))) }

    public var count: Int { values.count }
}
