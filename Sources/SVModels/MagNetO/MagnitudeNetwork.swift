import SVKernels

/// MagNetO's magnitude estimator (Garcia-Romero, Sell & McCree, Odyssey 2020, §4 and Table 3): a
/// feed-forward network from an utterance's pooled statistics to one magnitude a ≥ 0, so that
/// `a_i·a_j·cos(x_i, x_j) + b` is a calibrated log-likelihood ratio.
///
/// Every layer is affine + ReLU, the last one included: the ReLU on the single output is what keeps
/// magnitudes non-negative. The input is the pooled statistics after the pooling batch norm, i.e.
/// exactly what the embedding layer reads (`ECAPAEncoder.pooledStatistics`), so no separate input
/// normalisation is stored.
///
/// Stored in a model file as `magneto.layers.<i>.weight` (out × in, row-major) and
/// `magneto.layers.<i>.bias` (out); the global offset b lives in the `spkv.scoring` metadata.
public struct MagnitudeNetwork: Sendable, Equatable {
    public static let tensorPrefix = "magneto.layers."

    public struct Layer: Sendable, Equatable {
        public let inputs: Int
        public let outputs: Int
        /// (outputs × inputs), row-major.
        public let weight: [Float]
        public let bias: [Float]

        public init(inputs: Int, outputs: Int, weight: [Float], bias: [Float]) {
            self.inputs = inputs; self.outputs = outputs; self.weight = weight; self.bias = bias
        }
    }

    public let layers: [Layer]

    /// Checks that the layers chain, end in one output and hold finite numbers.
    public init(layers: [Layer]) throws(MagnitudeNetworkError) {
        guard let last = layers.last else { throw .invalid("it has no layers") }
        guard last.outputs == 1 else { throw .invalid("its last layer has \(last.outputs) outputs, not 1") }
        for (i, l) in layers.enumerated() {
            guard l.inputs > 0, l.outputs > 0, l.weight.count == l.inputs * l.outputs, l.bias.count == l.outputs else {
                throw .invalid("layer \(i) has inconsistent sizes")
            }
            if i > 0, layers[i - 1].outputs != l.inputs {
                throw .invalid("layer \(i) reads \(l.inputs) values but layer \(i - 1) gives \(layers[i - 1].outputs)")
            }
            guard l.weight.allSatisfy(\.isFinite), l.bias.allSatisfy(\.isFinite) else { throw .invalid("layer \(i) holds a non-finite value") }
        }
        self.layers = layers
    }

    public var inputSize: Int { layers[0].inputs }
    /// Widths of the hidden layers (the topology; MagNetO-2 scaled to 1536 inputs is [154, 154]).
    public var hiddenWidths: [Int] { layers.dropLast().map(\.outputs) }
    public var parameterCount: Int { layers.reduce(0) { $0 + $1.weight.count + $1.bias.count } }

    public static func weightName(_ i: Int) -> String { "\(tensorPrefix)\(i).weight" }
    public static func biasName(_ i: Int) -> String { "\(tensorPrefix)\(i).bias" }

    /// The tensors' names and shapes.
    public var tensorTable: [String: [Int]] {
        var t: [String: [Int]] = [:]
        for (i, l) in layers.enumerated() {
            t[Self.weightName(i)] = [l.outputs, l.inputs]
            t[Self.biasName(i)] = [l.outputs]
        }
        return t
    }

    /// Reads the network from a model file's `magneto.layers.*` tensors; nil when it has none.
    /// Errors name the problem (a gap in the layer numbers, a missing bias, a wrong shape).
    public static func read(from file: ModelFile) throws(MagnitudeNetworkError) -> MagnitudeNetwork? {
        let names = file.tensors.keys.filter { $0.hasPrefix(tensorPrefix) }
        guard !names.isEmpty else { return nil }
        var count = 0
        for name in names {
            let rest = name.dropFirst(tensorPrefix.count)
            guard let dot = rest.firstIndex(of: "."), let i = Int(rest[..<dot]), i >= 0, i < 64,
                  ["weight", "bias"].contains(String(rest[rest.index(after: dot)...])) else {
                throw .invalid("unexpected tensor '\(name)'")
            }
            count = max(count, i + 1)
        }
        var layers: [Layer] = []
        for i in 0..<count {
            guard let w = file.tensors[weightName(i)], let b = file.tensors[biasName(i)] else {
                throw .invalid("layer \(i) lacks its weight or bias")
            }
            guard w.shape.count == 2, b.shape == [w.shape[0]] else {
                throw .invalid("layer \(i) has weight shape \(w.shape) and bias shape \(b.shape)")
            }
            do {
                layers.append(Layer(inputs: w.shape[1], outputs: w.shape[0], weight: try w.floats().array, bias: try b.floats().array))
            } catch { throw .invalid("layer \(i): \(error)") }
        }
        return try MagnitudeNetwork(layers: layers)
    }

    /// The tensors to store in a model file.
    public func tensors() throws(ModelFileError) -> [StoredTensor] {
        var out: [StoredTensor] = []
        for (i, l) in layers.enumerated() {
            out.append(try StoredTensor(name: Self.weightName(i), shape: [l.outputs, l.inputs], floats: l.weight))
            out.append(try StoredTensor(name: Self.biasName(i), shape: [l.outputs], floats: l.bias))
        }
        return out
    }

    /// MagNetO's embedding, in place: the unit vector of `embedding` (its norm accumulated in Double, as
    /// `Cosine.normalized`) times `magnitude`, so that an inner product of two such vectors plus the offset is the
    /// LLR (`ScoringBackend`). A zero vector stays zero. Allocates nothing.
    public static func scale(_ embedding: UnsafeMutableBufferPointer<Float>, by magnitude: Float) {
        var squares = 0.0
        for v in embedding { squares += Double(v) * Double(v) }
        let norm = squares.squareRoot()
        for i in embedding.indices { embedding[i] = (norm > 0 ? Float(Double(embedding[i]) / norm) : embedding[i]) * magnitude }
    }

    /// The magnitude of one utterance from its `inputSize` pooled statistics.
    public func magnitude(_ input: [Float]) -> Float {
        precondition(input.count == inputSize, "MagnitudeNetwork: \(input.count) inputs, expected \(inputSize)")
        var x = input
        for l in layers {
            var y = l.bias
            l.weight.withUnsafeBufferPointer { w in
                x.withUnsafeBufferPointer { xb in
                    y.withUnsafeMutableBufferPointer { yb in
                        gemm(.none, .none, m: l.outputs, n: 1, k: l.inputs, a: w.baseAddress!, lda: l.inputs,
                             b: xb.baseAddress!, ldb: 1, beta: 1, c: yb.baseAddress!, ldc: 1)
                    }
                }
            }
            for k in y.indices where !(y[k] > 0) { y[k] = 0 }   // ReLU; also maps NaN to 0
            x = y
        }
        return x[0]
    }
}

public enum MagnitudeNetworkError: Error, Equatable, CustomStringConvertible {
    case invalid(String)

    public var description: String {
        switch self {
        case .invalid(let why): return "the model's MagNetO magnitude network is unusable: \(why)"
        }
    }
}
