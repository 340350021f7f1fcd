import Foundation
import SVKernels
import Testing
@testable import SVAutograd

/// Finite-difference gradient checks (STYLE B6, after ggml's GRAD mode).
///
/// The graph's analytic gradient of L = ⟨r, y⟩ (r a fixed random linear functional of the op's
/// output y) is compared with central differences of the same L computed by a **Double** reference
/// forward (`reference`), perturbing each checked input element by ±ε. Points whose difference
/// quotient changes between ε and ε/2 by more than a kink tolerance straddle a kink (ReLU at 0,
/// a clamp) and are skipped; at most 10 % may be. The error of an element is
/// |analytic − numeric| / max(|numeric|, 1e-2·max|numeric| of that input, 1e-4·max|numeric| of all
/// inputs, 1e-6); the check fails above `tolerance`.
struct GradientCheck {
    var epsilon: Double = 1e-3
    var tolerance: Double = 2e-3
    /// Elements checked per input (evenly spread) — caps the cost on larger shapes.
    var maxElements = 48
    /// Forward agreement between the Float graph and the Double reference, relative to max |y|.
    var forwardTolerance: Double = 1e-5
    var seed: UInt64 = 7

    struct Result: CustomStringConvertible {
        var maxRelativeError: Double
        var checked: Int
        var skipped: Int
        var forwardError: Double
        var description: String {
            "max rel err \(String(format: "%.2e", maxRelativeError)) over \(checked) elements (\(skipped) kinks skipped), forward err \(String(format: "%.1e", forwardError))"
        }
    }

    /// - inputs: the op's inputs; `checked` lists those to differentiate (default all).
    /// - build: the op on the graph (train mode unless `training` is false).
    /// - reference: the same op in Double on flat arrays (same order and layout).
    @discardableResult
    func run(_ name: String, inputs: [Tensor], checked: [Int]? = nil, training: Bool = true,
             build: (Graph, [Variable]) -> Variable, reference: ([[Double]]) -> [Double]) -> Result {
        let which = checked ?? Array(inputs.indices)
        let vars = inputs.enumerated().map { i, t in Variable(t, role: .constant, requiresGrad: which.contains(i)) }
        let g = Graph(training: training)
        let y = build(g, vars)
        let base = inputs.map { $0.values.map(Double.init) }
        let yRef = reference(base)
        #expect(yRef.count == y.count, "\(name): reference has \(yRef.count) outputs, graph \(y.count)")
        let scale = max(1e-6, yRef.map { Swift.abs($0) }.max() ?? 0)
        var forwardError = 0.0
        for (a, b) in zip(y.values, yRef) where b.isFinite || a.isFinite {
            forwardError = max(forwardError, Swift.abs(Double(a) - b) / max(1, scale))
        }
        #expect(forwardError <= forwardTolerance, "\(name): forward differs from the Double reference by \(forwardError)")

        var rng = SplitMix64(seed: seed)
        let r = (0..<y.count).map { _ in 2 * rng.nextFloat() - 1 }
        g.backward(from: y, seed: r)
        func loss(_ xs: [[Double]]) -> Double {
            zip(reference(xs), r).reduce(0.0) { acc, p in p.0.isFinite ? acc + p.0 * Double(p.1) : acc }
        }

        var result = Result(maxRelativeError: 0, checked: 0, skipped: 0, forwardError: forwardError)
        var numericByInput: [Int: [(Int, Double)]] = [:]
        for i in which {
            let n = inputs[i].count
            let stride = max(1, n / maxElements)
            let indices = Swift.stride(from: 0, to: n, by: stride).map { ($0 + Int(seed) % stride) % n }
            var numeric: [(Int, Double)] = []
            var skipped = 0
            for j in indices {
                func quotient(_ h: Double) -> Double {
                    var plus = base, minus = base
                    plus[i][j] += h; minus[i][j] -= h
                    return (loss(plus) - loss(minus)) / (2 * h)
                }
                let d1 = quotient(epsilon), d2 = quotient(epsilon / 2)
                if Swift.abs(d1 - d2) > 1e-3 * max(1, Swift.abs(d1)) + 1e-6 { skipped += 1; continue }
                numeric.append((j, d2))
            }
            numericByInput[i] = numeric
            result.skipped += skipped
            #expect(skipped * 10 <= indices.count, "\(name): \(skipped) of \(indices.count) points skipped as kinks")
        }
        // Error floor: 1 % of the input's largest gradient, 0.01 % of the largest over all inputs
        // (gradients that are exactly zero, like a bias before batch norm, carry Float round-off).
        let overall = numericByInput.values.flatMap { $0.map { Swift.abs($0.1) } }.max() ?? 0
        for i in which {
            let analytic = vars[i].grad ?? [Float](repeating: 0, count: inputs[i].count)
            #expect(analytic.allSatisfy { $0.isFinite }, "\(name): non-finite gradient for input \(i)")
            let numeric = numericByInput[i] ?? []
            let gScale = numeric.map { Swift.abs($0.1) }.max() ?? 0
            for (j, num) in numeric {
                let err = Swift.abs(Double(analytic[j]) - num) / max(Swift.abs(num), 1e-2 * gScale, 1e-4 * overall, 1e-6)
                result.maxRelativeError = max(result.maxRelativeError, err)
                #expect(err <= tolerance, "\(name): input \(i) element \(j): analytic \(analytic[j]) vs numeric \(num)")
            }
            result.checked += numeric.count
        }
        print("gradcheck \(name): \(result)")
        return result
    }
}

/// Seeded uniform test tensors.
func randomTensor(_ shape: [Int], _ lo: Float = -1, _ hi: Float = 1, seed: UInt64) -> Tensor {
    var rng = SplitMix64(seed: seed)
    return Tensor(shape: shape, uniform: lo, hi, rng: &rng)
}

/// Uniform values with |x| ≥ gap (inputs away from the kink of ReLU/clamps).
func awayFromZero(_ shape: [Int], gap: Float = 0.05, seed: UInt64) -> Tensor {
    var t = randomTensor(shape, seed: seed)
    t.values = t.values.map { $0 >= 0 ? $0 + gap : $0 - gap }
    return t
}
