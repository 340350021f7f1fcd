import Foundation
import SVAutograd
import SVKernels
import SpeakerVerification

/// MagNetO stage 2 (Garcia-Romero et al. 2020, §5.2.2, after [22]): retrain only the post-pooling
/// embedding layer on full-length utterances with AM-softmax (m 0.5, s 30), everything before it
/// frozen. Because the pre-pooling layers and the pooling are frozen, it trains on the cached pooled
/// statistics (after the pooling batch norm), i.e. exactly the embedding layer's input.
public struct FullLengthRefinement {
    public struct Settings: Sendable {
        public var steps = 1000
        public var batchSize = 128
        public var learningRate = 0.1
        /// The learning rate halves every `decaySteps` (paper: 0.1, ½ every 2 K of 20 K steps).
        public var decaySteps = 200
        public var margin: Float = 0.5
        public var scale: Float = 30
        public var seed: UInt64 = 2
        public init() {}
    }

    /// The refined layer: weight (embeddingSize × pooledSize) and bias.
    public var weight: [Float]
    public var bias: [Float]
    /// Mean AM-softmax loss of the first and of the last 10 % of steps.
    public var firstLoss = 0.0, lastLoss = 0.0

    /// Trains from the model's current layer (`weight`, `bias`) on `inputs.pooled` with speaker `labels`.
    public init(inputs: MagNetOInputs, labels: [Int], weight: [Float], bias: [Float], settings: Settings) throws(TrainingError) {
        let p = inputs.pooledSize, d = bias.count, speakers = (labels.max() ?? -1) + 1
        guard weight.count == d * p, labels.count == inputs.count, speakers >= 2 else {
            throw .run("full-length refinement: needs a (\(d) × \(p)) layer and at least 2 speakers")
        }
        guard settings.steps >= 1, settings.batchSize >= 2, settings.decaySteps >= 1, settings.learningRate > 0 else {
            throw .config(key: "refine", reason: "steps, batch size, decay steps and learning rate must be positive")
        }
        var rng = SplitMix64(seed: settings.seed)
        let w = Variable.parameter(Tensor(shape: [d, p], values: weight)), b = Variable.parameter(Tensor(shape: [d], values: bias))
        let bound = (6 / Float(speakers + d)).squareRoot()   // Xavier-uniform, as the reference classifier
        let classifier = Variable.parameter(Tensor(shape: [speakers, d], uniform: -bound, bound, rng: &rng))
        let sgd = SGD(parameters: [w, b, classifier], learningRate: Float(settings.learningRate), momentum: 0.9)
        let window = max(1, settings.steps / 10)
        var first = 0.0, last = 0.0
        for step in 0..<settings.steps {
            sgd.learningRate = Float(settings.learningRate * Foundation.pow(0.5, Double(step / settings.decaySteps)))
            let rows = (0..<settings.batchSize).map { _ in Int(rng.next() % UInt64(inputs.count)) }
            var x = [Float](repeating: 0, count: rows.count * p)
            for (k, r) in rows.enumerated() { for c in 0..<p { x[k * p + c] = inputs.pooled[r * p + c] } }
            let g = Graph()
            let e = g.linear(Variable(Tensor(shape: [rows.count, p], values: x)), weight: w, bias: b)
            let cosine = g.linear(g.l2Normalize(e), weight: g.l2Normalize(classifier))
            let targets = rows.map { labels[$0] }
            let loss = g.crossEntropy(g.amSoftmaxLogits(cosine, targets: targets, scale: settings.scale, margin: settings.margin), targets: targets)
            sgd.zeroGrad()
            g.backward(from: loss)
            sgd.step()
            let l = Double(loss.values[0])
            if step < window { first += l / Double(window) }
            if step >= settings.steps - window { last += l / Double(window) }
        }
        self.weight = w.values; self.bias = b.values
        firstLoss = first; lastLoss = last
    }

    /// The inputs with embeddings recomputed by the refined layer (pooled statistics unchanged).
    public func apply(to inputs: MagNetOInputs) -> MagNetOInputs {
        let n = inputs.count, p = inputs.pooledSize, d = bias.count
        var e = [Float](repeating: 0, count: n * d)
        for r in 0..<n { for o in 0..<d { e[r * d + o] = bias[o] } }
        inputs.pooled.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                e.withUnsafeMutableBufferPointer { y in
                    gemm(.none, .transposed, m: n, n: d, k: p, a: x.baseAddress!, lda: p, b: w.baseAddress!, ldb: p, beta: 1, c: y.baseAddress!, ldc: d)
                }
            }
        }
        return MagNetOInputs(count: n, embeddingSize: d, pooledSize: p, embeddings: e, pooled: inputs.pooled)
    }

    /// Replaces the embedding layer's tensors of `file` (kept in the file's own shape, e.g. SpeechBrain's
    /// trailing kernel axis of 1).
    public func write(into file: inout ModelFile, config: ECAPAConfig) throws(TrainingError) {
        let prefix = config.embeddingLayerName
        guard let old = file.tensors["\(prefix).weight"], file.tensors["\(prefix).bias"] != nil else {
            throw .run("the model has no embedding layer '\(prefix)'")
        }
        do {
            file.tensors["\(prefix).weight"] = try StoredTensor(name: "\(prefix).weight", shape: old.shape, floats: weight)
            file.tensors["\(prefix).bias"] = try StoredTensor(name: "\(prefix).bias", shape: [bias.count], floats: bias)
        } catch { throw .run("\(error)") }
    }
}
