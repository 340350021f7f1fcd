import Foundation
import SVKernels

// MARK: - Fake quantisation (quantisation-aware training)

/// The int8 grid of the inference core (`Int8ConvWeights`): q = clamp(round_half_even(x/s), −128, 127).
@inline(__always) func int8Grid(_ v: Float) -> Float { max(-128, min(127, v.rounded(.toNearestOrEven))) }

extension Graph {
    /// Per-tensor activation fake quantisation with a learned step (LSQ, Esser et al., ICLR 2020),
    /// the step parametrised by its logarithm θ (s = e^θ) so that optimiser updates are relative:
    /// y = s·clamp(round(x/s), −128, 127), the forward value exactly what the int8 core computes
    /// with input scale s. Backward (straight-through estimator): ∂y/∂x = 1 inside the clipping range
    /// and 0 outside; ∂y/∂s = round(x/s) − x/s inside, the clipped value (−128 or 127) outside, times
    /// LSQ's gradient scale 1/√(count·127); ∂y/∂θ = s·∂y/∂s.
    public func fakeQuantizeActivation(_ x: Variable, logScale s: Variable) -> Variable {
        precondition(s.count == 1, "fakeQuantizeActivation: the scale is one value, got \(s.shape)")
        let xv = x.value.values, step = expf(s.value.values[0])
        precondition(step > 0 && step.isFinite, "fakeQuantizeActivation: scale must be positive, got \(step)")
        let inverse = 1 / step
        var yv = [Float](repeating: 0, count: xv.count)
        for i in 0..<xv.count { yv[i] = int8Grid(xv[i] * inverse) * step }
        let gradScale = 1 / (Float(max(1, xv.count)) * 127).squareRoot()
        return record(Tensor(shape: x.shape, values: yv), inputs: [x, s]) { out in
            let dy = out.grad!
            if x.requiresGrad {
                x.accumulateGrad { dx in
                    for i in 0..<dy.count {
                        let v = xv[i] * inverse
                        if v >= -128 && v <= 127 { dx[i] += dy[i] }
                    }
                }
            }
            if s.requiresGrad {
                var ds = 0.0
                for i in 0..<dy.count {
                    let v = xv[i] * inverse
                    let local: Float = v < -128 ? -128 : (v > 127 ? 127 : v.rounded(.toNearestOrEven) - v)
                    ds += Double(dy[i] * local)
                }
                s.accumulateGrad { g in g[0] += Float(ds) * gradScale * step }
            }
        }
    }

    /// Per-output-channel symmetric weight fake quantisation, scale = max|w_row|/127 recomputed from
    /// the current weights (the rule `Int8ConvWeights` applies at export), so every weight lies on its
    /// row's grid: y = s·round(w/s). Backward: the straight-through estimator, ∂y/∂w = 1 (nothing is
    /// clipped, the row maximum defines the range).
    public func fakeQuantizeWeightRows(_ w: Variable) -> Variable {
        let rows = w.shape[0], k = w.count / max(1, rows), wv = w.value.values
        var yv = wv
        for r in 0..<rows {
            var peak: Float = 0
            for j in 0..<k { peak = max(peak, abs(wv[r * k + j])) }
            let scale: Float = peak > 0 ? peak / 127 : 1
            for j in 0..<k { yv[r * k + j] = int8Grid(wv[r * k + j] * (1 / scale)) * scale }
        }
        return record(Tensor(shape: w.shape, values: yv), inputs: [w]) { out in
            let dy = out.grad!
            w.accumulateGrad { dw in for i in 0..<dy.count { dw[i] += dy[i] } }
        }
    }
}
