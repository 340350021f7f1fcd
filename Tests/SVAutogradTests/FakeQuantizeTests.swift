import Foundation
import SVKernels
import Testing
@testable import SVAutograd

/// Fake quantisation for QAT: forward values on the int8 core's grid; the straight-through and LSQ
/// gradients on a hand-computed case; a finite-difference check where the op is differentiable.
@Suite struct FakeQuantizeTests {
    @Test func activationForwardAndGradientsOnAHandComputedCase() {
        let theta = logf(0.02), step = expf(theta)
        // x/s ≈ 13, −37, 150 (clipped to 127), −250 (clipped to −128), 0, 62.4 (rounds to 62).
        let xs: [Float] = [13, -37, 150, -250, 0, 62.4].map { $0 * step }
        let x = Variable(Tensor(shape: [1, 6], values: xs), role: .parameter)
        let s = Variable.parameter(Tensor(shape: [1], values: [theta]))
        let g = Graph()
        let y = g.fakeQuantizeActivation(x, logScale: s)
        let expectedQ: [Float] = [13, -37, 127, -128, 0, 62]
        for i in 0..<6 { #expect(abs(y.values[i] - expectedQ[i] * step) <= 1e-6 * abs(expectedQ[i] * step) + 1e-9) }
        let dy: [Float] = [1, 2, 3, 4, 5, 6]
        g.backward(from: y, seed: dy)
        // Straight through inside the range, nothing outside.
        #expect(x.grad! == [1, 2, 0, 0, 5, 6])
        // LSQ: Σ dy·(round(v) − v) inside, dy·clip outside; × 1/√(6·127); × s for the log step.
        var local = 0.0
        for i in 0..<6 {
            let v = Double(xs[i] * (1 / step))
            local += Double(dy[i]) * (v > 127 ? 127 : v < -128 ? -128 : v.rounded(.toNearestOrEven) - v)
        }
        let expected = local / (6.0 * 127).squareRoot() * Double(step)
        #expect(abs(Double(s.grad![0]) - expected) < 1e-6 * max(1, abs(expected)), "\(s.grad![0]) vs \(expected)")
    }

    /// Where every input is clipped, y = clip·e^θ is smooth in θ: the analytic gradient (without
    /// LSQ's constant gradient scale) must equal central differences.
    @Test func logStepGradientMatchesFiniteDifferencesWhereClipped() {
        let xs: [Float] = [5, -7, 9.5, -3.2]
        let dy: [Float] = [0.3, -1.2, 0.7, 2.0]
        func output(_ theta: Float) -> Double {
            let g = Graph(recording: false)
            let y = g.fakeQuantizeActivation(Variable(Tensor(shape: [4], values: xs)), logScale: Variable(Tensor(shape: [1], values: [theta])))
            return zip(y.values, dy).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        let theta: Float = logf(0.01)
        let s = Variable.parameter(Tensor(shape: [1], values: [theta]))
        let g = Graph()
        let y = g.fakeQuantizeActivation(Variable(Tensor(shape: [4], values: xs)), logScale: s)
        g.backward(from: y, seed: dy)
        let analytic = Double(s.grad![0]) * (4.0 * 127).squareRoot()
        let h: Float = 1e-3
        let numeric = (output(theta + h) - output(theta - h)) / Double(2 * h)
        #expect(abs(analytic - numeric) < 1e-3 * abs(numeric), "analytic \(analytic), numeric \(numeric)")
    }

    @Test func weightRowsLieOnTheirGridAndPassGradientsStraightThrough() {
        var rng = SplitMix64(seed: 3)
        let values = (0..<(4 * 3 * 5)).map { _ in rng.nextFloat() - 0.5 }
        let w = Variable.parameter(Tensor(shape: [4, 3, 5], values: values))
        let g = Graph()
        let y = g.fakeQuantizeWeightRows(w)
        for r in 0..<4 {
            let row = Array(values[(r * 15)..<((r + 1) * 15)])
            let scale = row.map(abs).max()! / 127
            for j in 0..<15 {
                let q = y.values[r * 15 + j] / scale
                #expect(abs(q - q.rounded()) < 1e-3 && abs(q) <= 127.001)
                #expect(abs(y.values[r * 15 + j] - row[j]) <= scale / 2 + 1e-7)
            }
        }
        g.backward(from: y, seed: [Float](repeating: 2, count: values.count))
        #expect(w.grad! == [Float](repeating: 2, count: values.count))
    }
}
