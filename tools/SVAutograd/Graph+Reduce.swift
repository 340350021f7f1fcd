import Foundation
import SVKernels

// MARK: - Softmax, reductions over the last axis, statistics pooling, L2 normalisation

extension Graph {
    /// Softmax over the last axis (over time for (N, C, T)).
    public func softmax(_ x: Variable) -> Variable {
        let cols = x.shape.last ?? 1, rows = x.count / max(1, cols)
        var y = x.value.values
        // The inference core's kernel: the same numbers in training and inference (rows split over the workers).
        y.withUnsafeMutableBufferPointer { yp in
            let o = SharedFloats(yp)
            split.run(rows, cost: 8 * cols) { part, _ in
                if !part.isEmpty { softmaxRows(o.base + part.lowerBound * cols, rows: part.count, columns: cols) }
            }
        }
        let yv = y
        return record(Tensor(shape: x.shape, values: y), inputs: [x]) { [split] out in
            let dy = out.grad!
            x.accumulateGrad(split) { dx in
                let o = SharedFloats(base: dx)
                dy.withUnsafeBufferPointer { g in
                    yv.withUnsafeBufferPointer { yp in
                        split.run(rows, cost: 4 * cols) { part, _ in
                            for r in part {
                                let base = r * cols
                                var dot: Float = 0
                                for i in 0..<cols { dot += g[base + i] * yp[base + i] }
                                for i in 0..<cols { o[base + i] += yp[base + i] * (g[base + i] - dot) }
                            }
                        }
                    }
                }
            }
        }
    }

    /// log-softmax over the last axis.
    public func logSoftmax(_ x: Variable) -> Variable {
        let cols = x.shape.last ?? 1, rows = x.count / max(1, cols)
        var y = x.value.values
        for r in 0..<rows {
            let base = r * cols
            var mx = -Float.infinity
            for i in 0..<cols { mx = max(mx, y[base + i]) }
            var s = 0.0
            for i in 0..<cols { s += Double(expf(y[base + i] - mx)) }
            let lse = mx + Float(Foundation.log(s))
            for i in 0..<cols { y[base + i] -= lse }
        }
        let yv = y
        return record(Tensor(shape: x.shape, values: y), inputs: [x]) { out in
            let dy = out.grad!
            x.accumulateGrad { dx in
                for r in 0..<rows {
                    let base = r * cols
                    var s: Float = 0
                    for i in 0..<cols { s += dy[base + i] }
                    for i in 0..<cols { dx[base + i] += dy[base + i] - expf(yv[base + i]) * s }
                }
            }
        }
    }

    /// Mean over the last axis, keeping it with size 1: (N, C, T) → (N, C, 1).
    public func meanLast(_ x: Variable) -> Variable {
        let cols = x.shape.last ?? 1, rows = x.count / max(1, cols)
        let xv = x.value.values
        let y = xv.withUnsafeBufferPointer { xp in
            parallelBlocks(rows, of: 1, cost: cols) { y, r in
                var s = 0.0
                for i in 0..<cols { s += Double(xp[r * cols + i]) }
                y[r] = Float(s / Double(cols))
            }
        }
        var shape = x.shape; shape[shape.count - 1] = 1
        return record(Tensor(shape: shape, values: y), inputs: [x]) { [split] out in
            let dy = out.grad!, inv = 1 / Float(cols)
            x.accumulateGrad(split) { dx in
                let o = SharedFloats(base: dx)
                split.run(rows, cost: cols) { part, _ in
                    for r in part { let g = dy[r] * inv; for i in 0..<cols { o[r * cols + i] += g } }
                }
            }
        }
    }

    /// [μ; σ] of every (sample, channel) row r = b·C + ch, split over the workers: `statistics(r)` gives the
    /// row's mean and variance (in Double); σ = √max(variance, floor). Returns (N, 2C) values and whether
    /// each row's variance was floored (its σ then passes no gradient).
    private func pooledStatistics(n: Int, c: Int, cost: Int, varianceFloor: Float,
                                  _ statistics: (Int) -> (mean: Double, variance: Double)) -> ([Float], [Bool]) {
        var y = [Float](repeating: 0, count: n * 2 * c)
        var floored = [Bool](repeating: false, count: n * c)
        guard n * c > 0 else { return (y, floored) }
        y.withUnsafeMutableBufferPointer { yb in
            floored.withUnsafeMutableBufferPointer { fb in
                let yo = SharedFloats(yb), fl = UncheckedSendable(fb.baseAddress!)
                split.run(n * c, cost: cost) { rows, _ in
                    for r in rows {
                        let (b, ch) = (r / c, r % c), (mu, v) = statistics(r)
                        fl.value[r] = v < Double(varianceFloor)
                        yo[b * 2 * c + ch] = Float(mu)
                        yo[b * 2 * c + c + ch] = Float(max(v, Double(varianceFloor)).squareRoot())
                    }
                }
            }
        }
        return (y, floored)
    }

    /// Statistics pooling over time: x (N, C, T) → (N, 2C, 1) = [mean; std] with
    /// std = √max(var, floor), var the biased (population) variance (SpeechBrain's global context).
    public func meanStd(_ x: Variable, varianceFloor: Float = 1e-12) -> Variable {
        precondition(x.shape.count == 3, "meanStd: x (N, C, T) expected, got \(x.shape)")
        let n = x.shape[0], c = x.shape[1], t = x.shape[2]
        let xv = x.value.values
        let (y, floored) = xv.withUnsafeBufferPointer { xp in
            pooledStatistics(n: n, c: c, cost: 4 * t, varianceFloor: varianceFloor) { r in
                let base = r * t
                var s = 0.0
                for i in 0..<t { s += Double(xp[base + i]) }
                let mu = s / Double(t)
                var q = 0.0
                for i in 0..<t { let d = Double(xp[base + i]) - mu; q += d * d }
                return (mu, q / Double(t))
            }
        }
        let yv = y, flooredRows = floored
        return record(Tensor(shape: [n, 2 * c, 1], values: y), inputs: [x]) { [split] out in
            let dy = out.grad!
            x.accumulateGrad(split) { dx in
                let o = SharedFloats(base: dx)
                xv.withUnsafeBufferPointer { xp in
                    split.run(n * c, cost: 3 * t) { rows, _ in
                        for r in rows {
                            let b = r / c, ch = r % c, base = r * t
                            let mu = yv[b * 2 * c + ch], sd = yv[b * 2 * c + c + ch]
                            let gMean = dy[b * 2 * c + ch] / Float(t)
                            // d std/dx_t = (x_t − μ)/(T·std) (the μ term sums to zero)
                            let gVar = flooredRows[r] ? 0 : dy[b * 2 * c + c + ch] / (sd * Float(t))
                            for i in 0..<t { o[base + i] += gMean + gVar * (xp[base + i] - mu) }
                        }
                    }
                }
            }
        }
    }

    /// Attention-weighted statistics: x, w (N, C, T) → (N, 2C, 1) = [μ; σ] with μ = Σₜ w·x and
    /// σ = √max(Σₜ w·(x−μ)², floor) (SpeechBrain `_compute_statistics`). Exact for any w (the
    /// gradient does not assume rows of w sum to one).
    public func weightedMeanStd(_ x: Variable, weights w: Variable, varianceFloor: Float = 1e-12) -> Variable {
        precondition(x.shape.count == 3 && x.shape == w.shape, "weightedMeanStd: x and weights (N, C, T) expected, got \(x.shape), \(w.shape)")
        let n = x.shape[0], c = x.shape[1], t = x.shape[2]
        let xv = x.value.values, wv = w.value.values
        let (y, floored) = xv.withUnsafeBufferPointer { xp in
            wv.withUnsafeBufferPointer { wp in
                pooledStatistics(n: n, c: c, cost: 6 * t, varianceFloor: varianceFloor) { r in
                    let base = r * t
                    var mu = 0.0
                    for i in 0..<t { mu += Double(wp[base + i]) * Double(xp[base + i]) }
                    var q = 0.0
                    for i in 0..<t { let d = Double(xp[base + i]) - mu; q += Double(wp[base + i]) * d * d }
                    return (mu, q)
                }
            }
        }
        let yv = y, flooredRows = floored
        return record(Tensor(shape: [n, 2 * c, 1], values: y), inputs: [x, w]) { [split] out in
            let dy = out.grad!
            var dxBuf = [Float](repeating: 0, count: xv.count), dwBuf = dxBuf
            xv.withUnsafeBufferPointer { xp in
                wv.withUnsafeBufferPointer { wp in
                    dxBuf.withUnsafeMutableBufferPointer { dxb in
                        dwBuf.withUnsafeMutableBufferPointer { dwb in
                            let dxo = SharedFloats(base: dxb.baseAddress!), dwo = SharedFloats(base: dwb.baseAddress!)
                            split.run(n * c, cost: 12 * t) { rows, _ in
                                for r in rows {
                                    let b = r / c, ch = r % c, base = r * t
                                    let mu = yv[b * 2 * c + ch], sd = yv[b * 2 * c + c + ch]
                                    let gVar = flooredRows[r] ? 0 : dy[b * 2 * c + c + ch] / (2 * sd)
                                    // var = Σ w(x−μ)²: ∂var/∂μ = −2Σ w(x−μ); total dμ collects that term.
                                    var dvdmu: Float = 0
                                    for i in 0..<t { dvdmu -= 2 * wp[base + i] * (xp[base + i] - mu) }
                                    let gMu = dy[b * 2 * c + ch] + gVar * dvdmu
                                    for i in 0..<t {
                                        let d = xp[base + i] - mu
                                        dxo[base + i] = gMu * wp[base + i] + gVar * 2 * wp[base + i] * d
                                        dwo[base + i] = gMu * xp[base + i] + gVar * d * d
                                    }
                                }
                            }
                        }
                    }
                }
            }
            for (v, buffer) in [(x, dxBuf), (w, dwBuf)] where v.requiresGrad {
                v.accumulateGrad(split) { g in
                    let o = SharedFloats(base: g)
                    buffer.withUnsafeBufferPointer { bp in split.run(bp.count, cost: 1) { range, _ in for i in range { o[i] += bp[i] } } }
                }
            }
        }
    }

    /// x / max(‖x‖, eps) along the last axis (PyTorch `F.normalize`, eps 1e-12).
    public func l2Normalize(_ x: Variable, epsilon: Float = 1e-12) -> Variable {
        let cols = x.shape.last ?? 1, rows = x.count / max(1, cols)
        let xv = x.value.values
        var y = xv
        var norms = [Float](repeating: 0, count: rows)
        for r in 0..<rows {
            var s = 0.0
            for i in 0..<cols { s += Double(xv[r * cols + i]) * Double(xv[r * cols + i]) }
            norms[r] = max(Float(s.squareRoot()), epsilon)
            for i in 0..<cols { y[r * cols + i] /= norms[r] }
        }
        let yv = y
        return record(Tensor(shape: x.shape, values: y), inputs: [x]) { out in
            let dy = out.grad!
            x.accumulateGrad { dx in
                for r in 0..<rows {
                    let base = r * cols, inv = 1 / norms[r]
                    if norms[r] == epsilon { for i in 0..<cols { dx[base + i] += dy[base + i] * inv }; continue }
                    var dot: Float = 0
                    for i in 0..<cols { dot += dy[base + i] * yv[base + i] }
                    for i in 0..<cols { dx[base + i] += (dy[base + i] - yv[base + i] * dot) * inv }
                }
            }
        }
    }
}
