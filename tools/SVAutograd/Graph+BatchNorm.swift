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
        // Channels are independent: statistics and gradients split over the workers by channel,
        // normalisation by (sample, channel) row; each sum runs in the single-thread order.
        if train {
            precondition(m > 1, "batchNorm: train mode needs more than one value per channel (N·T = \(m))")
            var rm = layer.runningMean.value.values, rv = layer.runningVar.value.values
            let mom = Double(layer.momentum)
            xv.withUnsafeBufferPointer { xp in
                mean.withUnsafeMutableBufferPointer { meanp in
                    invStd.withUnsafeMutableBufferPointer { isp in
                        rm.withUnsafeMutableBufferPointer { rmp in
                            rv.withUnsafeMutableBufferPointer { rvp in
                                let meanO = SharedFloats(base: meanp.baseAddress!), isO = SharedFloats(base: isp.baseAddress!)
                                let rmO = SharedFloats(base: rmp.baseAddress!), rvO = SharedFloats(base: rvp.baseAddress!)
                                split.run(c, cost: 4 * m) { channels, _ in
                                    for ch in channels {
                                        var s = 0.0
                                        for b in 0..<n { let base = (b * c + ch) * t; for i in 0..<t { s += Double(xp[base + i]) } }
                                        let mu = s / Double(m)
                                        var q = 0.0
                                        for b in 0..<n { let base = (b * c + ch) * t; for i in 0..<t { let d = Double(xp[base + i]) - mu; q += d * d } }
                                        let variance = q / Double(m)
                                        meanO[ch] = Float(mu)
                                        isO[ch] = Float(1 / (variance + eps).squareRoot())
                                        rmO[ch] = Float((1 - mom) * Double(rmO[ch]) + mom * mu)
                                        rvO[ch] = Float((1 - mom) * Double(rvO[ch]) + mom * variance * Double(m) / Double(m - 1))
                                    }
                                }
                            }
                        }
                    }
                }
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
        let count = xv.count
        var y: [Float] = []
        let xhat = [Float](unsafeUninitializedCapacity: count) { hb, hInitialized in
            y = [Float](unsafeUninitializedCapacity: count) { yb, yInitialized in
                let h = SharedFloats(hb)
                let yo = SharedFloats(yb)
                xv.withUnsafeBufferPointer { xp in
                    split.run(n * c, cost: 4 * t) { rows, _ in
                        for r in rows {
                            let ch = r % c, mu = mean[ch], s = invStd[ch], g = gamma[ch], sh = beta[ch]
                            for i in (r * t)..<((r + 1) * t) {
                                let v = (xp[i] - mu) * s
                                h[i] = v
                                yo[i] = v * g + sh
                            }
                        }
                    }
                }
                yInitialized = count
            }
            hInitialized = count
        }
        return record(Tensor(shape: x.shape, values: y), inputs: [x, layer.weight, layer.bias]) { [split] out in
            let dy = out.grad!
            var sumDy = [Float](repeating: 0, count: c), sumDyXhat = sumDy
            dy.withUnsafeBufferPointer { g in
                xhat.withUnsafeBufferPointer { hp in
                    sumDy.withUnsafeMutableBufferPointer { sp in
                        sumDyXhat.withUnsafeMutableBufferPointer { sxp in
                            let sO = SharedFloats(base: sp.baseAddress!), sxO = SharedFloats(base: sxp.baseAddress!)
                            split.run(c, cost: 4 * m) { channels, _ in
                                for ch in channels {
                                    for b in 0..<n {
                                        let base = (b * c + ch) * t
                                        var s: Float = 0, sx: Float = 0
                                        for i in 0..<t { s += g[base + i]; sx += g[base + i] * hp[base + i] }
                                        sO[ch] += s; sxO[ch] += sx
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if layer.weight.requiresGrad { layer.weight.accumulateGrad(split) { g in for ch in 0..<c { g[ch] += sumDyXhat[ch] } } }
            if layer.bias.requiresGrad { layer.bias.accumulateGrad(split) { g in for ch in 0..<c { g[ch] += sumDy[ch] } } }
            guard x.requiresGrad else { return }
            x.accumulateGrad(split) { dx in
                let o = SharedFloats(base: dx)
                dy.withUnsafeBufferPointer { g in
                    xhat.withUnsafeBufferPointer { hp in
                        split.run(n * c, cost: 4 * t) { rows, _ in
                            for r in rows {
                                let ch = r % c, base = r * t, k = gamma[ch] * invStd[ch]
                                if train {
                                    // dx = γ·σ⁻¹/M · (M·dy − Σdy − x̂·Σ(dy·x̂))
                                    let a = sumDy[ch] / Float(m), bb = sumDyXhat[ch] / Float(m)
                                    for i in 0..<t { o[base + i] += k * (g[base + i] - a - hp[base + i] * bb) }
                                } else {
                                    for i in 0..<t { o[base + i] += k * g[base + i] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
