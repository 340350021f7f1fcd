import Foundation

/// The pairs of one MagNetO batch: unit-embedding cosines and labels, fixed for the step.
public struct MagNetOPairs: Sendable {
    public let count: Int
    /// (count × count) row-major cosines of the batch's unit embeddings; only i < j is read.
    public let cosine: [Float]
    public let labels: [Int]

    public init(cosine: [Float], labels: [Int]) {
        precondition(cosine.count == labels.count * labels.count, "MagNetOPairs: \(cosine.count) cosines for \(labels.count) labels")
        self.count = labels.count; self.cosine = cosine; self.labels = labels
    }
}

extension Graph {
    /// MagNetO's prior-weighted binary cross-entropy (Garcia-Romero et al. 2020, Eq. 5) over all pairs
    /// i < j of a batch: ℓ_ij = a_i·a_j·cos_ij + b, p_ij = ℓ_ij + log(α/(1−α)),
    ///
    ///     L = α/|T|·Σ_T log(1 + e^(−p)) + (1−α)/|N′|·Σ_N′ log(1 + e^(p)),
    ///
    /// T the same-label pairs, N′ the `hardFraction` highest-scoring different-label pairs (§5.2.3: the
    /// 40 % highest non-target scores). The selection is a constant of the step (no gradient through
    /// it). Inputs: magnitudes a (N) or (N, 1), offset b (scalar or [1]). Needs ≥ 1 pair of each kind.
    public func magnetoPairLoss(magnitudes a: Variable, offset b: Variable, pairs: MagNetOPairs,
                                targetPrior alpha: Double, hardFraction: Double = 0.4) -> Variable {
        let n = pairs.count
        precondition(a.count == n && b.count == 1, "magnetoPairLoss: \(a.count) magnitudes for \(n) rows, offset of \(b.count)")
        precondition(alpha > 0 && alpha < 1 && hardFraction > 0 && hardFraction <= 1, "magnetoPairLoss: α and the hard fraction must lie in (0, 1)")
        let av = a.value.values.map(Double.init), bv = Double(b.value.values[0])
        let logOdds = Foundation.log(alpha / (1 - alpha))
        var targets: [(Int, Int, Double)] = [], nontargets: [(Int, Int, Double)] = []
        for i in 0..<n {
            for j in (i + 1)..<n {
                let l = av[i] * av[j] * Double(pairs.cosine[i * n + j]) + bv
                if pairs.labels[i] == pairs.labels[j] { targets.append((i, j, l)) } else { nontargets.append((i, j, l)) }
            }
        }
        precondition(!targets.isEmpty && !nontargets.isEmpty, "magnetoPairLoss: the batch needs target and non-target pairs")
        // Hardest non-targets: highest ℓ first; ties by pair order, so the selection is deterministic.
        let keep = max(1, Int((hardFraction * Double(nontargets.count)).rounded(.up)))
        let hard = nontargets.enumerated().sorted { x, y in x.element.2 != y.element.2 ? x.element.2 > y.element.2 : x.offset < y.offset }
            .prefix(keep).map(\.element)
        func softplus(_ x: Double) -> Double { x > 0 ? x + Foundation.log1p(Foundation.exp(-x)) : Foundation.log1p(Foundation.exp(x)) }
        func sigmoid(_ x: Double) -> Double { x >= 0 ? 1 / (1 + Foundation.exp(-x)) : Foundation.exp(x) / (1 + Foundation.exp(x)) }
        let wt = alpha / Double(targets.count), wn = (1 - alpha) / Double(hard.count)
        var loss = 0.0
        // dL/dℓ per selected pair.
        var slopes: [(Int, Int, Double)] = []
        slopes.reserveCapacity(targets.count + hard.count)
        for (i, j, l) in targets { loss += wt * softplus(-(l + logOdds)); slopes.append((i, j, -wt * sigmoid(-(l + logOdds)))) }
        for (i, j, l) in hard { loss += wn * softplus(l + logOdds); slopes.append((i, j, wn * sigmoid(l + logOdds))) }
        let cos = pairs.cosine
        return record(Tensor(scalar: Float(loss)), inputs: [a, b]) { out in
            let g = Double(out.grad![0])
            var da = [Double](repeating: 0, count: n), db = 0.0
            for (i, j, s) in slopes {
                let c = Double(cos[i * n + j])
                da[i] += g * s * av[j] * c
                da[j] += g * s * av[i] * c
                db += g * s
            }
            if a.requiresGrad { a.accumulateGrad { d in for i in 0..<n { d[i] += Float(da[i]) } } }
            if b.requiresGrad { b.accumulateGrad { d in d[0] += Float(db) } }
        }
    }

    /// Additive-margin softmax logits (CosFace / AM-softmax, MagNetO §3 Eq. 1): s·(cos − m) at each
    /// row's target column, s·cos elsewhere. Cosines (N, K).
    public func amSoftmaxLogits(_ cosine: Variable, targets: [Int], scale s: Float = 30, margin m: Float = 0.5) -> Variable {
        precondition(cosine.shape.count == 2 && cosine.shape[0] == targets.count,
                     "amSoftmaxLogits: cosine (N, K) and N targets expected, got \(cosine.shape), \(targets.count)")
        let n = cosine.shape[0], k = cosine.shape[1]
        var y = cosine.value.values.map { $0 * s }
        for r in 0..<n { y[r * k + targets[r]] -= s * m }
        return record(Tensor(shape: cosine.shape, values: y), inputs: [cosine]) { out in
            let dy = out.grad!
            cosine.accumulateGrad { dc in for i in 0..<(n * k) { dc[i] += s * dy[i] } }
        }
    }
}
