import Foundation
import SVAutograd
import SVKernels
import SpeakerVerification

/// Settings of MagNetO stage 3 (Garcia-Romero et al. 2020, §5.2.3), with our corpus's scale.
public struct MagNetOConfig: Codable, Equatable, Sendable {
    /// Where the same-speaker / different-speaker pair labels come from.
    public enum Labels: String, Codable, Sendable, CaseIterable {
        /// The corpus's speaker labels.
        case speakers
        /// Spherical k-means clusters of the frozen embeddings (as SSPS clusters): no labels needed.
        case clusters
    }

    public var labels = Labels.speakers
    /// k for `clusters` (0: the number of training speakers, for comparison with true labels).
    public var clusters = 0
    /// Hidden layer widths; empty means the `topology` preset.
    public var hidden: [Int] = []
    /// The paper's Table 3 topologies scaled to the pooled width P: 1 = [P/20]×3, 2 = [P/10]×2, 3 = [P/2]×2.
    public var topology = 2
    /// S speakers × R utterances per batch (paper: 100 × 10 recordings).
    public var speakersPerBatch = 50
    public var perSpeaker = 8
    public var steps = 3000
    public var learningRate = 0.01
    /// The learning rate halves every `decaySteps` (paper: 0.01, ½ every 6 K of 30 K steps).
    public var decaySteps = 600
    public var momentum = 0.9
    /// Target prior α of Eq. 5 (and of the initial linear calibrator).
    public var prior = 0.01
    /// Share of the highest-scoring non-target pairs kept in the loss.
    public var hardFraction = 0.4
    public var seed: UInt64 = 1

    public init() {}

    public func hiddenWidths(pooledSize p: Int) -> [Int] {
        if !hidden.isEmpty { return hidden }
        switch topology {
        case 1: return [max(1, p / 20), max(1, p / 20), max(1, p / 20)]
        case 3: return [max(1, p / 2), max(1, p / 2)]
        default: return [max(1, p / 10), max(1, p / 10)]
        }
    }

    public func check() throws(TrainingError) {
        guard (1...3).contains(topology) else { throw .config(key: "topology", reason: "must be 1, 2 or 3") }
        guard hidden.allSatisfy({ $0 >= 1 }) else { throw .config(key: "hidden", reason: "widths must be positive") }
        guard speakersPerBatch >= 2 else { throw .config(key: "speakers-per-batch", reason: "needs at least 2 (non-target pairs)") }
        guard perSpeaker >= 2 else { throw .config(key: "per-speaker", reason: "needs at least 2 (target pairs)") }
        guard steps >= 1, decaySteps >= 1 else { throw .config(key: "steps", reason: "steps and decay-steps must be positive") }
        guard learningRate > 0, learningRate.isFinite else { throw .config(key: "lr", reason: "must be positive") }
        guard prior > 0, prior < 1 else { throw .config(key: "prior", reason: "must be strictly between 0 and 1") }
        guard hardFraction > 0, hardFraction <= 1 else { throw .config(key: "hard-fraction", reason: "must be in (0, 1]") }
        guard clusters >= 0 else { throw .config(key: "clusters", reason: "must be ≥ 0") }
    }
}

/// MagNetO stage 3 on frozen inputs: the magnitude network and the global offset, trained with the
/// prior-weighted pair BCE from the global linear calibrator's solution.
public final class MagNetOTrainer {
    public struct LogRow: Sendable {
        public var step: Int
        public var loss: Double
        public var learningRate: Float
        public var meanMagnitude: Double
    }

    public let config: MagNetOConfig
    public let inputs: MagNetOInputs
    /// Pair label per input row (speaker or cluster index).
    public let labels: [Int]
    /// The global linear calibrator fitted on every pair of the training inputs: the starting point.
    public let calibrator: LinearCalibration
    public let layers: [(weight: Variable, bias: Variable)]
    public let offset: Variable
    private let unit: [Float]
    private let groups: [[Int]]

    public init(config: MagNetOConfig, inputs: MagNetOInputs, labels: [Int]) throws(TrainingError) {
        try config.check()
        precondition(labels.count == inputs.count, "MagNetOTrainer: one label per input row")
        self.config = config; self.inputs = inputs; self.labels = labels
        unit = inputs.unitEmbeddings
        var byLabel: [Int: [Int]] = [:]
        for (i, l) in labels.enumerated() { byLabel[l, default: []].append(i) }
        groups = byLabel.keys.sorted().map { byLabel[$0]! }.filter { $0.count >= 2 }
        guard groups.count >= 2 else {
            throw .run("MagNetO needs at least 2 labels with 2 or more utterances each (found \(groups.count))")
        }
        calibrator = try Self.fitCalibrator(unit: unit, count: inputs.count, dimension: inputs.embeddingSize, labels: labels, prior: config.prior)
        guard calibrator.scale > 0 else {
            throw .run("the global calibrator's scale is \(calibrator.scale): the embeddings do not separate the labels, MagNetO cannot start from it")
        }
        // Hidden layers: PyTorch's default Linear init U(±1/√in); last layer zero weights and bias √scale (§5.2.3).
        var rng = SplitMix64(seed: config.seed)
        var widths = [inputs.pooledSize] + config.hiddenWidths(pooledSize: inputs.pooledSize)
        widths.append(1)
        var layers: [(Variable, Variable)] = []
        for l in 0..<(widths.count - 1) {
            let fin = widths[l], fout = widths[l + 1], bound = Float(1 / Double(fin).squareRoot())
            let last = l == widths.count - 2
            let w = last ? Tensor(zeros: [fout, fin]) : Tensor(shape: [fout, fin], uniform: -bound, bound, rng: &rng)
            let b = last ? Tensor(shape: [1], values: [Float(calibrator.scale.squareRoot())]) : Tensor(shape: [fout], uniform: -bound, bound, rng: &rng)
            layers.append((Variable.parameter(w, name: "magneto.layers.\(l).weight"), Variable.parameter(b, name: "magneto.layers.\(l).bias")))
        }
        self.layers = layers
        offset = Variable.parameter(Tensor(shape: [1], values: [Float(calibrator.offset)]), name: "magneto.offset")
    }

    /// Most pairs of each class the global calibrator is fitted on: a few thousand utterances make tens of
    /// millions of pairs, and Newton's method over them all takes minutes for no gain in a two-parameter fit.
    static let calibratorPairsPerClass = 2_000_000

    /// Prior-weighted logistic regression on the pairs i < j (cosines by one GEMM): all of them, or where a
    /// class has more than `calibratorPairsPerClass`, an even random share of that class (each class is
    /// averaged on its own in the objective, so thinning one leaves it unbiased). Deterministic.
    static func fitCalibrator(unit: [Float], count n: Int, dimension d: Int, labels: [Int], prior: Double) throws(TrainingError) -> LinearCalibration {
        let gram = gramMatrix(unit, count: n, dimension: d)
        let targetPairs = Dictionary(labels.map { ($0, 1) }, uniquingKeysWith: +).values.reduce(0) { $0 + $1 * ($1 - 1) / 2 }
        let nontargetPairs = n * (n - 1) / 2 - targetPairs
        func share(_ count: Int) -> Double { count <= calibratorPairsPerClass ? 1 : Double(calibratorPairsPerClass) / Double(count) }
        let keepTarget = share(targetPairs), keepNontarget = share(nontargetPairs)
        var rng = SplitMix64(seed: 0x6361_6c69_6272_6174)
        var targets: [Double] = [], nontargets: [Double] = []
        for i in 0..<n {
            for j in (i + 1)..<n {
                let target = labels[i] == labels[j], keep = target ? keepTarget : keepNontarget
                if keep < 1, Double(rng.next() >> 11) * 0x1p-53 >= keep { continue }
                if target { targets.append(Double(gram[i * n + j])) } else { nontargets.append(Double(gram[i * n + j])) }
            }
        }
        do { return try LinearCalibration.fit(targets: targets, nontargets: nontargets, prior: prior) } catch {
            throw .run("global calibrator: \(error.description)")
        }
    }

    public var parameters: [Variable] { layers.flatMap { [$0.weight, $0.bias] } + [offset] }

    /// Magnitudes of input rows `rows` on graph `g`: (rows.count, 1).
    func magnitudes(_ g: Graph, rows: [Int]) -> Variable {
        let p = inputs.pooledSize
        var x = [Float](repeating: 0, count: rows.count * p)
        for (k, r) in rows.enumerated() {
            for c in 0..<p { x[k * p + c] = inputs.pooled[r * p + c] }
        }
        var h = Variable(Tensor(shape: [rows.count, p], values: x))
        for layer in layers { h = g.relu(g.linear(h, weight: layer.weight, bias: layer.bias)) }
        return h
    }

    /// The batch of `step`: S labels, R members each (fewer when a label has fewer), seeded by step.
    public func batch(step: Int) -> [Int] {
        var rng = SplitMix64(seed: config.seed &+ 0x9E37_79B9 &* UInt64(step + 1))
        var order = Array(groups.indices)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        var rows: [Int] = []
        for g in order.prefix(config.speakersPerBatch) {
            var members = groups[g]
            for i in stride(from: members.count - 1, to: 0, by: -1) { members.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            rows += members.prefix(config.perSpeaker)
        }
        return rows
    }

    func pairs(rows: [Int]) -> MagNetOPairs {
        let d = inputs.embeddingSize
        var batch = [Float](repeating: 0, count: rows.count * d)
        for (k, r) in rows.enumerated() { for c in 0..<d { batch[k * d + c] = unit[r * d + c] } }
        return MagNetOPairs(cosine: Self.gramMatrix(batch, count: rows.count, dimension: d), labels: rows.map { labels[$0] })
    }

    /// Cosines of every pair of unit rows (n × n), one GEMM.
    static func gramMatrix(_ rows: [Float], count n: Int, dimension d: Int) -> [Float] {
        var gram = [Float](repeating: 0, count: n * n)
        rows.withUnsafeBufferPointer { u in
            gram.withUnsafeMutableBufferPointer { g in
                gemm(.none, .transposed, m: n, n: n, k: d, a: u.baseAddress!, lda: d, b: u.baseAddress!, ldb: d, c: g.baseAddress!, ldc: n)
            }
        }
        return gram
    }

    /// The loss of one batch with the current parameters (no update).
    public func loss(step: Int) -> Double {
        let g = Graph(training: false, recording: false)
        let rows = batch(step: step)
        let a = magnitudes(g, rows: rows)
        return Double(g.magnetoPairLoss(magnitudes: a, offset: offset, pairs: pairs(rows: rows), targetPrior: config.prior,
                                        hardFraction: config.hardFraction).values[0])
    }

    public func learningRate(step: Int) -> Float {
        Float(config.learningRate * Foundation.pow(0.5, Double(step / config.decaySteps)))
    }

    /// Trains for `config.steps` SGD steps; `log` gets the mean loss every `logEvery` steps.
    public func run(logEvery: Int = 100, log: (LogRow) -> Void = { _ in }) {
        let sgd = SGD(parameters: parameters, learningRate: Float(config.learningRate), momentum: Float(config.momentum))
        var sum = 0.0, magnitudeSum = 0.0, seen = 0
        for step in 0..<config.steps {
            sgd.learningRate = learningRate(step: step)
            let g = Graph(training: true)
            let rows = batch(step: step)
            let a = magnitudes(g, rows: rows)
            let loss = g.magnetoPairLoss(magnitudes: a, offset: offset, pairs: pairs(rows: rows), targetPrior: config.prior,
                                         hardFraction: config.hardFraction)
            sgd.zeroGrad()
            g.backward(from: loss)
            sgd.step()
            sum += Double(loss.values[0]); magnitudeSum += a.values.reduce(0.0) { $0 + Double($1) } / Double(rows.count); seen += 1
            if (step + 1) % logEvery == 0 || step + 1 == config.steps {
                log(LogRow(step: step + 1, loss: sum / Double(seen), learningRate: sgd.learningRate, meanMagnitude: magnitudeSum / Double(seen)))
                sum = 0; magnitudeSum = 0; seen = 0
            }
        }
    }

    /// The trained network as the inference core stores it.
    public func network() throws(TrainingError) -> MagnitudeNetwork {
        do {
            return try MagnitudeNetwork(layers: layers.map { l in
                MagnitudeNetwork.Layer(inputs: l.weight.shape[1], outputs: l.weight.shape[0], weight: l.weight.values, bias: l.bias.values)
            })
        } catch { throw .run("\(error)") }
    }

    public var offsetValue: Double { Double(offset.values[0]) }

    /// Pair labels from spherical k-means of the unit embeddings (the SSPS clustering), k clusters.
    public static func clusterLabels(inputs: MagNetOInputs, clusters k: Int, seed: UInt64) -> [Int] {
        let result = SphericalKMeans.fit(rows: inputs.embeddings, count: inputs.count, dimension: inputs.embeddingSize,
                                         clusters: k, iterations: 20, seed: seed)
        return result.assignments.map(Int.init)
    }
}
