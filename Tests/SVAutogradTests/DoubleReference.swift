import Foundation
import SVKernels

/// Naive Double twins of the autograd ops: the forward the finite differences run through.
enum Ref {
    static func conv1d(_ x: [Double], n: Int, cin: Int, t: Int, _ w: [Double], cout: Int, k: Int,
                       _ b: [Double]?, dilation: Int, padding: PaddingMode) -> [Double] {
        let pad = dilation * (k - 1) / 2
        var y = [Double](repeating: 0, count: n * cout * t)
        for s in 0..<n {
            for o in 0..<cout {
                for tt in 0..<t {
                    var acc = b?[o] ?? 0
                    for c in 0..<cin {
                        for j in 0..<k {
                            var i = tt + j * dilation - pad
                            if i < 0 || i >= t {
                                if padding == .zeros { continue }
                                if i < 0 { i = -i }
                                if i >= t { i = 2 * (t - 1) - i }
                            }
                            acc += w[(o * cin + c) * k + j] * x[(s * cin + c) * t + i]
                        }
                    }
                    y[(s * cout + o) * t + tt] = acc
                }
            }
        }
        return y
    }

    /// Batch norm over (N, C, T); train: batch statistics (biased variance); eval: given statistics.
    static func batchNorm(_ x: [Double], n: Int, c: Int, t: Int, gamma: [Double], beta: [Double],
                          mean: [Double]? = nil, variance: [Double]? = nil, eps: Double = 1e-5) -> [Double] {
        var y = x
        for ch in 0..<c {
            var mu = 0.0, v = 0.0
            if let mean, let variance { mu = mean[ch]; v = variance[ch] } else {
                for b in 0..<n { for i in 0..<t { mu += x[(b * c + ch) * t + i] } }
                mu /= Double(n * t)
                for b in 0..<n { for i in 0..<t { let d = x[(b * c + ch) * t + i] - mu; v += d * d } }
                v /= Double(n * t)
            }
            for b in 0..<n { for i in 0..<t {
                let k = (b * c + ch) * t + i
                y[k] = (x[k] - mu) / (v + eps).squareRoot() * gamma[ch] + beta[ch]
            } }
        }
        return y
    }

    static func rows(_ x: [Double], cols: Int, _ f: ([Double]) -> [Double]) -> [Double] {
        stride(from: 0, to: x.count, by: cols).flatMap { f(Array(x[$0..<($0 + cols)])) }
    }

    static func softmax(_ x: [Double], cols: Int) -> [Double] {
        rows(x, cols: cols) { r in let m = r.max()!; let e = r.map { Foundation.exp($0 - m) }; let s = e.reduce(0, +); return e.map { $0 / s } }
    }

    static func logSoftmax(_ x: [Double], cols: Int) -> [Double] {
        rows(x, cols: cols) { r in let m = r.max()!; let l = m + Foundation.log(r.map { Foundation.exp($0 - m) }.reduce(0, +)); return r.map { $0 - l } }
    }

    static func meanLast(_ x: [Double], cols: Int) -> [Double] {
        rows(x, cols: cols) { [$0.reduce(0, +) / Double(cols)] }
    }

    /// (N, C, T) → (N, 2C): [mean; std] per sample, std = √max(biased var, floor).
    static func meanStd(_ x: [Double], n: Int, c: Int, t: Int, floor: Double = 1e-12) -> [Double] {
        var y: [Double] = []
        for b in 0..<n {
            var mus: [Double] = [], sds: [Double] = []
            for ch in 0..<c {
                let r = x[((b * c + ch) * t)..<((b * c + ch + 1) * t)]
                let mu = r.reduce(0, +) / Double(t)
                mus.append(mu)
                sds.append(max(r.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Double(t), floor).squareRoot())
            }
            y += mus + sds
        }
        return y
    }

    static func weightedMeanStd(_ x: [Double], _ w: [Double], n: Int, c: Int, t: Int, floor: Double = 1e-12) -> [Double] {
        var y: [Double] = []
        for b in 0..<n {
            var mus: [Double] = [], sds: [Double] = []
            for ch in 0..<c {
                let base = (b * c + ch) * t
                var mu = 0.0
                for i in 0..<t { mu += w[base + i] * x[base + i] }
                var q = 0.0
                for i in 0..<t { q += w[base + i] * (x[base + i] - mu) * (x[base + i] - mu) }
                mus.append(mu); sds.append(max(q, floor).squareRoot())
            }
            y += mus + sds
        }
        return y
    }

    static func l2Normalize(_ x: [Double], cols: Int) -> [Double] {
        rows(x, cols: cols) { r in let s = max(r.map { $0 * $0 }.reduce(0, +).squareRoot(), 1e-12); return r.map { $0 / s } }
    }

    /// x (N, in) · Wᵀ (in, out) + b.
    static func linear(_ x: [Double], n: Int, fin: Int, _ w: [Double], fout: Int, _ b: [Double]?) -> [Double] {
        var y = [Double](repeating: 0, count: n * fout)
        for r in 0..<n { for o in 0..<fout {
            var s = b?[o] ?? 0
            for i in 0..<fin { s += x[r * fin + i] * w[o * fin + i] }
            y[r * fout + o] = s
        } }
        return y
    }

    static func crossEntropy(_ logits: [Double], k: Int, targets: [Int]) -> Double {
        let ls = logSoftmax(logits, cols: k)
        return -targets.enumerated().map { r, t in ls[r * k + t] }.reduce(0, +) / Double(targets.count)
    }

    static func aam(_ cosine: [Double], k: Int, targets: [Int], s: Double, m: Double) -> [Double] {
        var y = cosine.map { $0 * s }
        for (r, t) in targets.enumerated() {
            let c = cosine[r * k + t]
            let sinT = min(max(1 - c * c, 0), 1).squareRoot()
            y[r * k + t] = s * (c > Foundation.cos(Double.pi - m) ? c * Foundation.cos(m) - sinT * Foundation.sin(m)
                                                               : c - m * Foundation.sin(Double.pi - m))
        }
        return y
    }

    /// Broadcast binary op over same-rank shapes.
    static func broadcast(_ a: [Double], _ sa: [Int], _ b: [Double], _ sb: [Int], _ f: (Double, Double) -> Double) -> [Double] {
        let out = zip(sa, sb).map { max($0, $1) }
        let total = out.reduce(1, *)
        var y = [Double](repeating: 0, count: total)
        for o in 0..<total {
            var rem = o, ia = 0, ib = 0, stA = 1, stB = 1
            for d in stride(from: out.count - 1, through: 0, by: -1) {
                let idx = rem % out[d]; rem /= out[d]
                ia += (sa[d] == 1 ? 0 : idx) * stA; stA *= sa[d]
                ib += (sb[d] == 1 ? 0 : idx) * stB; stB *= sb[d]
            }
            y[o] = f(a[ia], b[ib])
        }
        return y
    }
}
