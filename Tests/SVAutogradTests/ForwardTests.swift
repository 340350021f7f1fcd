import Foundation
import SVKernels
import Testing
import _SVTestSupport
@testable import SVAutograd

/// Forward values against known results and the inference kernels; tape mechanics.
@Suite struct ForwardTests {
    @Test(arguments: [(3, 1, PaddingMode.reflect), (3, 2, .reflect), (5, 1, .zeros), (3, 4, .zeros), (1, 1, .reflect)])
    func conv1dMatchesNaiveKernel(_ k: Int, _ d: Int, _ padding: PaddingMode) {
        let n = 2, cin = 3, cout = 5, t = 11
        let x = randomTensor([n, cin, t], seed: 30), w = randomTensor([cout, cin, k], seed: 31), b = randomTensor([cout], seed: 32)
        let g = Graph(training: false, recording: false)
        let y = g.conv1d(Variable(x), weight: Variable(w), bias: Variable(b), dilation: d, padding: padding)
        var expected = [Float](repeating: 0, count: n * cout * t)
        for s in 0..<n {
            x.values.withUnsafeBufferPointer { xp in
                expected.withUnsafeMutableBufferPointer { yp in
                    conv1dSameNaive(x: xp.baseAddress! + s * cin * t, inChannels: cin, frames: t, weight: w.values,
                                    bias: b.values, outChannels: cout, kernel: k, dilation: d, padding: padding,
                                    y: yp.baseAddress! + s * cout * t)
                }
            }
        }
        #expect(maxAbs(y.values, expected) < 1e-5)
        #expect(g.count == 0 && !y.requiresGrad, "no-grad mode records nothing")
    }

    @Test func softmaxRowsSumToOne() {
        let g = Graph()
        let y = g.softmax(Variable(randomTensor([2, 3, 7], -5, 5, seed: 33)))
        for r in 0..<6 { #expect(Swift.abs(y.values[(r * 7)..<(r * 7 + 7)].reduce(0, +) - 1) < 1e-6) }
        #expect(y.values.allSatisfy { $0 > 0 })
    }

    @Test func batchNormNormalisesAndUpdatesRunningStatistics() {
        let x = randomTensor([4, 2, 6], 1, 3, seed: 34)
        let bn = BatchNormLayer(channels: 2)
        let g = Graph(training: true)
        let y = g.batchNorm(Variable(x), bn)
        for ch in 0..<2 {
            let vals = (0..<4).flatMap { b in (0..<6).map { Double(y.values[(b * 2 + ch) * 6 + $0]) } }
            let mean = vals.reduce(0, +) / 24
            let variance = vals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 24
            #expect(Swift.abs(mean) < 1e-6)
            #expect(Swift.abs(variance - 1) < 1e-3, "variance \(variance) = 1 − ε/(σ²+ε)")
            // Running statistics: 0.9·0 + 0.1·μ and 0.9·1 + 0.1·σ²·M/(M−1) (PyTorch, unbiased).
            let xs = (0..<4).flatMap { b in (0..<6).map { Double(x.values[(b * 2 + ch) * 6 + $0]) } }
            let mu = xs.reduce(0, +) / 24
            let unbiased = xs.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / 23
            #expect(Swift.abs(Double(bn.runningMean.values[ch]) - 0.1 * mu) < 1e-6)
            #expect(Swift.abs(Double(bn.runningVar.values[ch]) - (0.9 + 0.1 * unbiased)) < 1e-6)
        }
        // Eval mode uses the running statistics and leaves them alone.
        let before = bn.runningMean.values
        let e = Graph(training: false).batchNorm(Variable(x), bn)
        #expect(bn.runningMean.values == before)
        let expected = (x.values[0] - before[0]) / (bn.runningVar.values[0] + 1e-5).squareRoot()
        #expect(Swift.abs(e.values[0] - expected) < 1e-5)
    }

    @Test func gradientsAccumulateAcrossBackwardPasses() {
        let w = Variable.parameter(Tensor(shape: [2], values: [1, 2]))
        for _ in 0..<2 {
            let g = Graph()
            g.backward(from: g.sum(g.mul(w, w)))   // d/dw Σw² = 2w
        }
        #expect(w.grad == [4, 8])
        w.zeroGrad()
        #expect(w.grad == nil)
        // A variable used twice in one graph gets both contributions.
        let g = Graph()
        g.backward(from: g.sum(g.add(w, g.affine(w, scale: 3))))
        #expect(w.grad == [4, 4])
    }

    @Test func constantsGetNoGradient() {
        let x = Variable(Tensor(shape: [2], values: [1, 2]))
        let w = Variable.parameter(Tensor(shape: [2], values: [3, 4]))
        let g = Graph()
        g.backward(from: g.sum(g.mul(x, w)))
        #expect(x.grad == nil && w.grad == [1, 2])
        #expect(g.count == 2)
    }

    @Test func geluMatchesKnownValues() {
        // PyTorch: F.gelu(tensor([-1., 0.5, 2.])) = [-0.158655, 0.345731, 1.954500]
        let y = Graph().gelu(Variable(Tensor(shape: [3], values: [-1, 0.5, 2])))
        #expect(maxAbs(y.values, [-0.158655, 0.345731, 1.954500]) < 1e-5)
    }

    @Test func aamSoftmaxKnownValues() {
        // cosθ = 0.5 (target): φ = 0.5·cos 0.2 − √0.75·sin 0.2 = 0.490033 − 0.172053 = 0.317980; ×30 = 9.53940.
        // Non-target cosines are just scaled. cosθ = −0.99 ≤ cos(π−0.2) = −0.980067: fallback
        // −0.99 − 0.2·sin(π−0.2) = −0.99 − 0.039734 = −1.029734; ×30 = −30.89202.
        let y = Graph().aamSoftmaxLogits(Variable(Tensor(shape: [2, 2], values: [0.5, 0.1, 0.3, -0.99])), targets: [0, 1])
        #expect(maxAbs(y.values, [9.53940, 3, 9, -30.89202]) < 1e-3)
    }
}

/// `maxAbsDifference`: NaN on either side gives NaN (`.max()` would drop it and the check would pass).
func maxAbs(_ a: [Float], _ b: [Float]) -> Float { maxAbsDifference(a, b) }
