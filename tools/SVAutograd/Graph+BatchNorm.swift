// MARK: - Batch norm (PyTorch BatchNorm1d semantics)

/// The parameters and running statistics of one BatchNorm1d layer (PyTorch names: `weight`, `bias`,
/// `running_mean`, `running_var`).
public struct BatchNormLayer {
    public let weight: Variable
    public let bias: Variable
    public let runningMean: Variable
    public let runningVar: Variable
    public var momentum: Float
    public var epsilon: Float

    /// γ = 1, β = 0, running mean 0, running variance 1 (PyTorch's initial state); `prefix` names them.
    public init(channels: Int, prefix: String = "", momentum: Float = 0.1, epsilon: Float = 1e-5) {
        let dot = prefix.isEmpty ? "" : "\(prefix)."
        weight = .parameter(Tensor(shape: [channels], repeating: 1), name: "\(dot)weight")
        bias = .parameter(Tensor(zeros: [channels]), name: "\(dot)bias")
        runningMean = .buffer(Tensor(zeros: [channels]), name: "\(dot)running_mean")
        runningVar = .buffer(Tensor(shape: [channels], repeating: 1), name: "\(dot)running_var")
        self.momentum = momentum
        self.epsilon = epsilon
    }

    /// A layer from existing variables (e.g. loaded from a checkpoint).
    public init(weight: Variable, bias: Variable, runningMean: Variable, runningVar: Variable,
                momentum: Float = 0.1, epsilon: Float = 1e-5) {
        precondition([bias.count, runningMean.count, runningVar.count].allSatisfy { $0 == weight.count },
                     "BatchNormLayer: weight, bias and running statistics must have the same length")
        self.weight = weight; self.bias = bias; self.runningMean = runningMean; self.runningVar = runningVar
        self.momentum = momentum; self.epsilon = epsilon
    }

    public var parameters: [Variable] { [weight, bias] }
    public var buffers: [Variable] { [runningMean, runningVar] }
}

extension Graph {
    /// BatchNorm1d over x (N, C, T) or (N, C).
    ///
    /// Train mode (`graph.training`): normalises with the batch statistics over N·T (biased
    /// variance) and updates the running statistics, `r ← (1−momentum)·r + momentum·batch`, with
    /// the unbiased variance for `running_var` (as PyTorch). Eval mode uses the running statistics.
    public func batchNorm(_ x: Variable, _ layer: BatchNormLayer) -> Variable {
        precondition(x.shape.count == 2 || x.shape.count == 3, "batchNorm: x (N, C) or (N, C, T) expected, got \(x.shape)")
        let n = x.shape[0], c = x.shape[1], t = x.shape.count == 3 ? x.shape[2] : 1
        precondition(layer.weight.count == c, "batchNorm: layer has \(layer.weight.count) channels, x has \(c)")
        let m = n * t, eps = Double(layer.epsilon)
        let xv = x.value.values, gamma = layer.weight.value.values, beta = layer.bias.value.values
        var mean = [Float](repeating: 0, count: c), invStd = [Float](repeating: 0, count: c)
        let train = training
        if train {
            precondition(m > 1, "batchNorm: train mode needs more than one value per channel (N·T = \(m))")
            var rm = layer.runningMean.value.values, rv = layer.runningVar.value.values
            let mom = Double(layer.momentum)
            for ch in 0..<c {
                var s = 0.0
                for b in 0..<n { let base = (b * c + ch) * t; for i in 0..<t { s += Double(xv[base + i]) } }
                let mu = s / Double(m)
                var q = 0.0
                for b in 0..<n { let base = (b * c + ch) * t; for i in 0..<t { let d = Double(xv[base + i]) - mu; q += d * d } }
                let variance = q / Double(m)
                mean[ch] = Float(mu)
                invStd[ch] = Float(1 / (variance + eps).squareRoot())
                rm[ch] = Float((1 - mom) * Double(rm[ch]) + mom * mu)
                rv[ch] = Float((1 - mom) * Double(rv[ch]) + mom * variance * Double(m) / Double(m - 1))
            }
            layer.runningMean.value.values = rm
            layer.runningVar.value.values = rv
        } else {
            let rm = layer.runningMean.value.values, rv = layer.runningVar.value.values
            for ch in 0..<c {
                mean[ch] = rm[ch]
                invStd[ch] = Float(1 / (Double(rv[ch]) + eps).squareRoot())
            }
        }
        var xhat = [Float](repeating: 0, count: xv.count), y = xhat
        for b in 0..<n {
            for ch in 0..<c {
                let base = (b * c + ch) * t, mu = mean[ch], s = invStd[ch], g = gamma[ch], sh = beta[ch]
                for i in 0..<t {
                    let h = (xv[base + i] - mu) * s
                    xhat[base + i] = h
                    y[base + i] = h * g + sh
                }
            }
        }
        return record(Tensor(shape: x.shape, values: y), inputs: [x, layer.weight, layer.bias]) { out in
            let dy = out.grad!
            var sumDy = [Float](repeating: 0, count: c), sumDyXhat = sumDy
            for b in 0..<n {
                for ch in 0..<c {
                    let base = (b * c + ch) * t
                    var s: Float = 0, sx: Float = 0
                    for i in 0..<t { s += dy[base + i]; sx += dy[base + i] * xhat[base + i] }
                    sumDy[ch] += s; sumDyXhat[ch] += sx
                }
            }
            if layer.weight.requiresGrad { layer.weight.accumulateGrad { g in for ch in 0..<c { g[ch] += sumDyXhat[ch] } } }
            if layer.bias.requiresGrad { layer.bias.accumulateGrad { g in for ch in 0..<c { g[ch] += sumDy[ch] } } }
            guard x.requiresGrad else { return }
            x.accumulateGrad { dx in
                for b in 0..<n {
                    for ch in 0..<c {
                        let base = (b * c + ch) * t, k = gamma[ch] * invStd[ch]
                        if train {
                            // dx = γ·σ⁻¹/M · (M·dy − Σdy − x̂·Σ(dy·x̂))
                            let a = sumDy[ch] / Float(m), bb = sumDyXhat[ch] / Float(m)
                            for i in 0..<t { dx[base + i] += k * (dy[base + i] - a - xhat[base + i] * bb) }
                        } else {
                            for i in 0..<t { dx[base + i] += k * dy[base + i] }
                        }
                    }
                }
            }
        }
    }
}
