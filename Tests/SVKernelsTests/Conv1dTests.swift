import Foundation
import Testing
import _SVTestSupport
@testable import SVKernels

@Suite struct Conv1dTests {
    /// The comparison helper every parity test uses reports NaN (it once returned the largest finite
    /// difference, so a NaN output passed).
    @Test func maxAbsDifferenceReportsNaN() {
        #expect(maxAbsDifference([1, .nan, 3] as [Float], [1, 2, 3]).isNaN)
        #expect(maxAbsDifference([1, 2, 3] as [Float], [1, 2, .nan]).isNaN)
        #expect(maxAbsDifference([1, 2, 3] as [Float], [1, 2.5, 3]) == 0.5)
    }

    struct Case: Sendable, CustomStringConvertible {
        let cin: Int, cout: Int, frames: Int, kernel: Int, dilation: Int, padding: PaddingMode
        var description: String { "\(cin)->\(cout) T=\(frames) k=\(kernel) d=\(dilation) \(padding)" }
    }

    static let cases: [Case] = [
        Case(cin: 5, cout: 7, frames: 23, kernel: 5, dilation: 1, padding: .reflect),
        Case(cin: 4, cout: 3, frames: 17, kernel: 3, dilation: 4, padding: .reflect),
        Case(cin: 4, cout: 3, frames: 5, kernel: 3, dilation: 4, padding: .reflect),   // pad 4, frames 5: edge of reflect
        Case(cin: 6, cout: 2, frames: 9, kernel: 3, dilation: 3, padding: .zeros),
        Case(cin: 3, cout: 2, frames: 3, kernel: 5, dilation: 3, padding: .zeros),     // pad larger than the input
        Case(cin: 8, cout: 9, frames: 31, kernel: 1, dilation: 1, padding: .reflect),
    ]

    @Test(arguments: cases)
    func matchesNaiveTwin(_ c: Case) {
        var rng = SplitMix64(seed: UInt64(c.frames * 31 + c.kernel))
        let x = (0..<(c.cin * c.frames)).map { _ in rng.nextFloat() * 2 - 1 }
        let w = (0..<(c.cout * c.cin * c.kernel)).map { _ in rng.nextFloat() * 2 - 1 }
        let b = (0..<c.cout).map { _ in rng.nextFloat() }
        var fast = [Float](repeating: .nan, count: c.cout * c.frames), slow = fast
        var scratch = [Float](repeating: .nan, count: max(1, conv1dScratchCount(inChannels: c.cin, kernel: c.kernel, frames: c.frames)))
        conv1dSame(x: x, inChannels: c.cin, frames: c.frames, weight: w, bias: b, outChannels: c.cout,
                   kernel: c.kernel, dilation: c.dilation, padding: c.padding, y: &fast, scratch: &scratch)
        conv1dSameNaive(x: x, inChannels: c.cin, frames: c.frames, weight: w, bias: b, outChannels: c.cout,
                        kernel: c.kernel, dilation: c.dilation, padding: c.padding, y: &slow)
        let diff = maxAbsDifference(fast, slow)  // NaN when either side has one (`.max()` would drop it)
        #expect(diff < 1e-5, "max |fast − naive| = \(diff)")
    }

    @Test func reflectPaddingMirrorsWithoutRepeatingTheEdge() {
        // x = [1 2 3 4], kernel 3 picking only the left tap: y[t] = x[t − 1], y[0] = x[1] (reflect).
        let x: [Float] = [1, 2, 3, 4], w: [Float] = [1, 0, 0]
        var y = [Float](repeating: 0, count: 4), scratch = [Float](repeating: 0, count: 12)
        conv1dSame(x: x, inChannels: 1, frames: 4, weight: w, bias: nil, outChannels: 1, kernel: 3, dilation: 1,
                   padding: .reflect, y: &y, scratch: &scratch)
        #expect(y == [2, 1, 2, 3])
        conv1dSame(x: x, inChannels: 1, frames: 4, weight: w, bias: nil, outChannels: 1, kernel: 3, dilation: 1,
                   padding: .zeros, y: &y, scratch: &scratch)
        #expect(y == [0, 1, 2, 3])
    }
}

@Suite struct ElementwiseTests {
    @Test func softmaxRowsSumToOneAndKeepOrder() {
        var x: [Float] = [1, 2, 3, 1000, 1000, -1000]
        softmaxRows(&x, rows: 2, columns: 3)
        #expect(abs(x[0] + x[1] + x[2] - 1) < 1e-6)
        #expect(x[0] < x[1] && x[1] < x[2])
        #expect(abs(x[3] - 0.5) < 1e-6 && x[5] == 0)
        let e1 = Foundation.exp(1.0), expected = Float(e1 * e1 / (1 + e1 + e1 * e1))
        #expect(abs(x[2] - expected) < 1e-6)
    }

    @Test func weightedStatisticsByHand() {
        // Row [1, 3] with weights [0.25, 0.75]: mean 2.5, var 0.25·2.25 + 0.75·0.25 = 0.75.
        let x: [Float] = [1, 3], w: [Float] = [0.25, 0.75]
        var mean: Float = 0, std: Float = 0
        weightedRowMeanStd(x, weights: w, channels: 1, frames: 2, varianceFloor: 1e-12, mean: &mean, std: &std)
        #expect(abs(mean - 2.5) < 1e-6 && abs(std - Float(0.75).squareRoot()) < 1e-6)
        // A constant row hits the variance floor: std = sqrt(1e-12) = 1e-6.
        let flat: [Float] = [2, 2, 2]
        var m2: Float = 0, s2: Float = 0
        rowMeanStd(flat, channels: 1, frames: 3, varianceFloor: 1e-12, mean: &m2, std: &s2)
        #expect(m2 == 2 && abs(s2 - 1e-6) < 1e-9)
    }

    @Test func sigmoidIsStableAtTheExtremes() {
        #expect(sigmoid(0) == 0.5)
        #expect(sigmoid(-100) >= 0 && sigmoid(-100) < 1e-30)
        #expect(sigmoid(100) == 1)
        #expect(abs(sigmoid(1) - Float(1 / (1 + Foundation.exp(-1.0)))) < 1e-7)
    }
}

@Suite struct FastExpTests {
    @Test func exp16MatchesLibmWithinTwoUlps() {
        var worst: Float = 0
        var x: Float = -87
        while x < 87.9 {
            let lanes = SIMD16<Float>((0..<16).map { x + Float($0) * 0.000_37 })
            let fast = exp16(lanes)
            for i in 0..<16 {
                let exact = Foundation.exp(Double(lanes[i]))
                worst = max(worst, Float(abs(Double(fast[i]) - exact) / exact))
            }
            x += 0.0113
        }
        #expect(worst < 2.5e-7, "max relative error \(worst)")
        #expect(exp16(SIMD16(repeating: -.infinity))[0] < 1e-37)
        #expect(exp16(SIMD16(repeating: 0))[3] == 1)
        #expect(exp16(SIMD16(repeating: 88))[0].isFinite && exp16(SIMD16(repeating: 1000))[0].isFinite)
    }

    @Test(arguments: [1, 15, 16, 17, 501])
    func softmaxMatchesDoublePrecisionReference(columns: Int) {
        var rng = SplitMix64(seed: UInt64(columns))
        let x = (0..<(3 * columns)).map { _ in (rng.nextFloat() - 0.5) * 40 }
        var y = x
        softmaxRows(&y, rows: 3, columns: columns)
        var worst = 0.0
        for r in 0..<3 {
            let row = x[(r * columns)..<((r + 1) * columns)].map(Double.init)
            let m = row.max()!, z = row.reduce(0) { $0 + Foundation.exp($1 - m) }
            for t in 0..<columns { worst = max(worst, abs(Double(y[r * columns + t]) - Foundation.exp(row[t] - m) / z)) }
        }
        #expect(worst < 1e-6, "max |Δ| \(worst)")
    }
}
