import Foundation

// Per-channel kernels over (channels, frames) row-major activations. No allocation, no throws.

/// Fused TDNN epilogue: `y = max(0, y) · scale[c] + shift[c]` (ReLU then an affine batch norm),
/// in place. y is (channels, frames).
public func reluThenAffine(_ y: UnsafeMutablePointer<Float>, channels: Int, frames: Int,
                           scale: UnsafePointer<Float>, shift: UnsafePointer<Float>) {
    for c in 0..<channels {
        let row = y + c * frames
        let s = scale[c], b = shift[c]
        for t in 0..<frames { row[t] = max(0, row[t]) * s + b }
    }
}

/// `y = max(0, y)` in place over `count` values.
public func reluInPlace(_ y: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { y[i] = max(0, y[i]) }
}

/// `y = tanh(y)` in place.
public func tanhInPlace(_ y: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { y[i] = tanhf(y[i]) }
}

/// Logistic sigmoid `1 / (1 + e^-x)`, stable for large |x|.
@inline(__always)
public func sigmoid(_ x: Float) -> Float {
    x >= 0 ? 1 / (1 + expf(-x)) : { let e = expf(x); return e / (1 + e) }()
}

/// Eight floats from `p` widened to Double (one vcvtps2pd with AVX-512).
@inline(__always) private func load8(_ p: UnsafePointer<Float>) -> SIMD8<Double> {
    SIMD8<Double>(UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self))
}

/// Σ_t f(t) over a row in Double, eight frames per step (`lanes(t)` gives frames t..<t+8,
/// `scalar(t)` one frame): the row statistics below, vectorised without giving up Double sums.
@inline(__always) private func rowSum(_ frames: Int, _ lanes: (Int) -> SIMD8<Double>, _ scalar: (Int) -> Double) -> Double {
    var acc = SIMD8<Double>(), t = 0
    while t + 8 <= frames { acc += lanes(t); t += 8 }
    var sum = acc.sum()
    while t < frames { sum += scalar(t); t += 1 }
    return sum
}

/// Mean of each row: `out[c] = (1/frames) Σ_t x[c, t]` (accumulated in Double).
public func rowMeans(_ x: UnsafePointer<Float>, channels: Int, frames: Int, out: UnsafeMutablePointer<Float>) {
    for c in 0..<channels {
        let row = x + c * frames
        let sum = rowSum(frames, { load8(row + $0) }, { Double(row[$0]) })
        out[c] = Float(sum / Double(frames))
    }
}

/// Mean and standard deviation of each row: `std = sqrt(max(var + offset, floor))`, where `var`
/// is the population variance, or the unbiased one (divided by frames − 1) when `unbiased`.
public func rowMeanStd(_ x: UnsafePointer<Float>, channels: Int, frames: Int, unbiased: Bool = false,
                       varianceOffset: Float = 0, varianceFloor: Float,
                       mean: UnsafeMutablePointer<Float>, std: UnsafeMutablePointer<Float>) {
    let divisor = Double(unbiased ? max(1, frames - 1) : frames)
    for c in 0..<channels {
        let row = x + c * frames
        let mu = rowSum(frames, { load8(row + $0) }, { Double(row[$0]) }) / Double(frames)
        let m8 = SIMD8<Double>(repeating: mu)
        let sq = rowSum(frames, { let d = load8(row + $0) - m8; return d * d },
                        { let d = Double(row[$0]) - mu; return d * d })
        mean[c] = Float(mu)
        std[c] = Float(max(sq / divisor + Double(varianceOffset), Double(varianceFloor)).squareRoot())
    }
}

/// Softmax over each row, in place (max-subtracted), with the vectorised `exp16`.
public func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
    let vectorEnd = columns - columns % 16
    for r in 0..<rows {
        let row = x + r * columns
        // Row maximum in 16 lanes (a scalar max loop does not vectorise: NaN ordering rules).
        var lanes = SIMD16<Float>(repeating: -.infinity)
        var i = 0
        while i < vectorEnd {
            let v = UnsafeRawPointer(row + i).loadUnaligned(as: SIMD16<Float>.self)
            lanes.replace(with: v, where: v .> lanes)
            i += 16
        }
        var m = lanes.max()
        while i < columns { m = max(m, row[i]); i += 1 }
        let shift = SIMD16<Float>(repeating: m)
        var sums = SIMD16<Float>()
        var t = 0
        while t < vectorEnd {
            let raw = UnsafeRawPointer(row + t)
            let e = exp16(raw.loadUnaligned(as: SIMD16<Float>.self) - shift)
            UnsafeMutableRawPointer(row + t).storeBytes(of: e, as: SIMD16<Float>.self)
            sums += e
            t += 16
        }
        var sum = sums.sum()
        while t < columns {
            let e = expf(row[t] - m)
            row[t] = e; sum += e; t += 1
        }
        let inv = 1 / sum
        for t in 0..<columns { row[t] *= inv }
    }
}

/// Attention-weighted statistics per row: `mean = Σ_t w·x`, `std = sqrt(max(Σ_t w·(x−mean)², floor))`,
/// where each row of `weights` sums to one.
public func weightedRowMeanStd(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>, channels: Int,
                               frames: Int, varianceFloor: Float,
                               mean: UnsafeMutablePointer<Float>, std: UnsafeMutablePointer<Float>) {
    for c in 0..<channels {
        let row = x + c * frames, w = weights + c * frames
        let mu = rowSum(frames, { load8(w + $0) * load8(row + $0) }, { Double(w[$0]) * Double(row[$0]) })
        let m8 = SIMD8<Double>(repeating: mu)
        let sq = rowSum(frames, { let d = load8(row + $0) - m8; return load8(w + $0) * d * d },
                        { let d = Double(row[$0]) - mu; return Double(w[$0]) * d * d })
        mean[c] = Float(mu)
        std[c] = Float(max(sq, Double(varianceFloor)).squareRoot())
    }
}
