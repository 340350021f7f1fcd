import Foundation

extension Graph {
    /// Mean cross-entropy of logits (N, K) against integer targets in 0..<K (PyTorch
    /// `F.cross_entropy`, reduction mean). Returns a scalar.
    public func crossEntropy(_ logits: Variable, targets: [Int]) -> Variable {
        precondition(logits.shape.count == 2 && logits.shape[0] == targets.count,
                     "crossEntropy: logits (N, K) and N targets expected, got \(logits.shape) and \(targets.count)")
        let n = logits.shape[0], k = logits.shape[1]
        precondition(targets.allSatisfy { $0 >= 0 && $0 < k }, "crossEntropy: targets must lie in 0..<\(k)")
        let lv = logits.value.values
        let (pv, lse) = softmaxRowsWithLogSumExp(lv, rows: n, columns: k)
        var loss = 0.0
        for r in 0..<n { loss += lse[r] - Double(lv[r * k + targets[r]]) }
        return record(Tensor(scalar: Float(loss / Double(n))), inputs: [logits]) { out in
            let g = out.grad![0] / Float(n)
            logits.accumulateGrad { dl in
                for r in 0..<n {
                    for i in 0..<k { dl[r * k + i] += g * pv[r * k + i] }
                    dl[r * k + targets[r]] -= g
                }
            }
        }
    }

    /// Mean over rows of the soft-target cross-entropy −Σₖ tₖ·log_softmax(x)ₖ: logits x (N, K),
    /// constant targets t (N, K) (rows need not sum to one; no gradient flows into them). DINO's
    /// loss term `torch.sum(-t * F.log_softmax(s, dim=-1), dim=-1).mean()`. Returns a scalar;
    /// ∂/∂x = (softmax(x)·Σₖtₖ − t)/N.
    public func softTargetCrossEntropy(_ logits: Variable, targets: Tensor) -> Variable {
        precondition(logits.shape.count == 2 && targets.shape == logits.shape,
                     "softTargetCrossEntropy: logits and targets (N, K) expected, got \(logits.shape) and \(targets.shape)")
        let n = logits.shape[0], k = logits.shape[1]
        let lv = logits.value.values, tv = targets.values
        let (pv, lse) = softmaxRowsWithLogSumExp(lv, rows: n, columns: k)
        var targetSums = [Float](repeating: 0, count: n)
        var loss = 0.0
        for r in 0..<n {
            let base = r * k
            var ts = 0.0, row = 0.0
            for i in 0..<k {
                ts += Double(tv[base + i])
                if tv[base + i] != 0 { row -= Double(tv[base + i]) * (Double(lv[base + i]) - lse[r]) }
            }
            targetSums[r] = Float(ts)
            loss += row
        }
        let sums = targetSums
        return record(Tensor(scalar: Float(loss / Double(n))), inputs: [logits]) { out in
            let g = out.grad![0] / Float(n)
            logits.accumulateGrad { dl in
                for r in 0..<n {
                    let base = r * k, ts = sums[r]
                    for i in 0..<k { dl[base + i] += g * (pv[base + i] * ts - tv[base + i]) }
                }
            }
        }
    }

    /// Additive angular margin (ArcFace / AAM-softmax) logits from cosines (N, K): the target
    /// column becomes φ = cos(θ+m) = cosθ·cos m − sinθ·sin m with sinθ = √clamp(1−cos²θ, 0, 1), or
    /// cosθ − m·sin(π−m) when cosθ ≤ cos(π−m) (the reference's easy-margin-off fallback); every
    /// logit is then scaled by s.
    public func aamSoftmaxLogits(_ cosine: Variable, targets: [Int], scale s: Float = 30, margin m: Float = 0.2) -> Variable {
        precondition(cosine.shape.count == 2 && cosine.shape[0] == targets.count,
                     "aamSoftmaxLogits: cosine (N, K) and N targets expected, got \(cosine.shape), \(targets.count)")
        let n = cosine.shape[0], k = cosine.shape[1]
        let cosM = Foundation.cos(m), sinM = Foundation.sin(m)
        let th = Foundation.cos(Float.pi - m), mm = Foundation.sin(Float.pi - m) * m
        let cv = cosine.value.values
        var y = cv.map { $0 * s }
        var slope = [Float](repeating: 0, count: n)   // dφ/dcosθ at each target
        for r in 0..<n {
            let c = cv[r * k + targets[r]]
            let oneMinus = 1 - c * c
            let sinT = min(max(oneMinus, 0), 1).squareRoot()
            if c > th {
                y[r * k + targets[r]] = s * (c * cosM - sinT * sinM)
                slope[r] = cosM + ((oneMinus > 0 && oneMinus < 1) ? sinM * c / sinT : 0)
            } else {
                y[r * k + targets[r]] = s * (c - mm)
                slope[r] = 1
            }
        }
        return record(Tensor(shape: cosine.shape, values: y), inputs: [cosine]) { out in
            let dy = out.grad!
            cosine.accumulateGrad { dc in
                for r in 0..<n {
                    for i in 0..<k { dc[r * k + i] += s * dy[r * k + i] * (i == targets[r] ? slope[r] : 1) }
                }
            }
        }
    }

    /// Sets the diagonal of a square matrix to `value` (no gradient flows through the diagonal).
    public func fillDiagonal(_ x: Variable, _ value: Float) -> Variable {
        precondition(x.shape.count == 2 && x.shape[0] == x.shape[1], "fillDiagonal: square matrix expected, got \(x.shape)")
        let n = x.shape[0]
        var y = x.value.values
        for i in 0..<n { y[i * n + i] = value }
        return record(Tensor(shape: x.shape, values: y), inputs: [x]) { out in
            let dy = out.grad!
            x.accumulateGrad { dx in for i in 0..<(n * n) where i % (n + 1) != 0 { dx[i] += dy[i] } }
        }
    }

    /// Symmetric NT-Xent (SimCLR) over two views z1, z2 (N, D): rows of Z = [z1; z2] are
    /// L2-normalised, logits Z·Zᵀ/τ with the self-similarity excluded, and each row's positive is
    /// its partner in the other view; mean over the 2N rows.
    public func ntXent(_ z1: Variable, _ z2: Variable, temperature: Float = 0.03) -> Variable {
        precondition(z1.shape == z2.shape && z1.shape.count == 2, "ntXent: two (N, D) views expected, got \(z1.shape), \(z2.shape)")
        let n = z1.shape[0]
        let z = l2Normalize(concat([z1, z2], axis: 0))
        let logits = fillDiagonal(affine(linear(z, weight: z), scale: 1 / temperature), -.infinity)
        return crossEntropy(logits, targets: (0..<(2 * n)).map { $0 < n ? $0 + n : $0 - n })
    }

    /// Distillation towards fixed targets: `scale` × the mean over the N rows of 1 − cos(sᵢ, tᵢ), with s (N, D) the
    /// student's outputs (L2-normalised here) and t (N, D) the teacher's unit-length rows (a constant). With
    /// scale 2 this is the mean ‖ŝᵢ − tᵢ‖² (MSE on normalised embeddings).
    public func cosineDistillation(_ s: Variable, teacher t: Tensor, scale: Float = 1) -> Variable {
        precondition(s.shape.count == 2 && t.shape == s.shape, "cosineDistillation: (N, D) outputs and targets expected, got \(s.shape), \(t.shape)")
        let n = s.shape[0]
        let agreement = sum(mul(l2Normalize(s), Variable(t)))
        return affine(agreement, scale: -scale / Float(n), shift: scale)
    }
}

/// Row-wise softmax of (rows, columns) logits with each row's log-sum-exp, in Double for the
/// sums (the losses above share it; their backward passes need the probabilities).
func softmaxRowsWithLogSumExp(_ x: [Float], rows n: Int, columns k: Int) -> (probs: [Float], logSumExp: [Double]) {
    var probs = [Float](repeating: 0, count: n * k), lse = [Double](repeating: 0, count: n)
    for r in 0..<n {
        let base = r * k
        var mx = -Float.infinity
        for i in 0..<k { mx = max(mx, x[base + i]) }
        var s = 0.0
        for i in 0..<k { let e = Foundation.exp(Double(x[base + i] - mx)); probs[base + i] = Float(e); s += e }
        for i in 0..<k { probs[base + i] = Float(Double(probs[base + i]) / s) }
        lse[r] = Double(mx) + Foundation.log(s)
    }
    return (probs, lse)
}
