import Testing
@testable import SVKernels

/// The fp32 indirect kernel against a naive twin accumulated in Double, and against itself split over
/// threads (each column's sum is the same whatever the split: bit for bit).
@Suite(.enabled(if: F32IndirectWeights.isAvailable, "needs AVX-512")) struct F32IndirectTests {
    struct Shape: Sendable, CustomStringConvertible {
        var out: Int, k: Int, frames: Int, relu: Bool, bias: Bool
        var description: String { "\(out)×\(k) T=\(frames) relu \(relu) bias \(bias)" }
    }

    static let shapes: [Shape] = [
        Shape(out: 1, k: 1, frames: 1, relu: false, bias: false),
        Shape(out: 5, k: 9, frames: 17, relu: true, bias: true),
        Shape(out: 6, k: 64, frames: 64, relu: false, bias: true),
        Shape(out: 13, k: 288, frames: 65, relu: true, bias: false),
        Shape(out: 32, k: 384, frames: 250, relu: false, bias: false),
    ]

    /// Runs the kernel with row j reading `source` from offset 3j (rows overlap, as taps of a convolution do).
    static func run(_ w: F32IndirectWeights, _ source: [Float], _ bias: [Float]?, _ s: Shape, threads: Int) -> [Float] {
        var y = [Float](repeating: .nan, count: s.out * s.frames)
        source.withUnsafeBufferPointer { src in
            let rows = (0..<s.k).map { j -> UnsafePointer<Float>? in src.baseAddress! + 3 * j }
            rows.withUnsafeBufferPointer { r in y.withUnsafeMutableBufferPointer { yb in
                if let bias {
                    bias.withUnsafeBufferPointer { b in
                        w.gemm(rows: r.baseAddress!, frames: s.frames, bias: b.baseAddress!, relu: s.relu, into: yb.baseAddress!,
                               ldy: s.frames, threads: threads)
                    }
                } else {
                    w.gemm(rows: r.baseAddress!, frames: s.frames, bias: nil, relu: s.relu, into: yb.baseAddress!, ldy: s.frames,
                           threads: threads)
                }
            } }
        }
        return y
    }

    @Test(arguments: shapes)
    func matchesTheNaiveSum(_ s: Shape) {
        var rng = SplitMix64(seed: UInt64(s.out * 31 + s.k))
        let weights = (0..<(s.out * s.k)).map { _ in rng.nextFloat() - 0.5 }
        let source = (0..<(3 * s.k + F32IndirectWeights.paddedFrames(s.frames))).map { _ in rng.nextFloat() * 4 - 2 }
        let bias: [Float]? = s.bias ? (0..<s.out).map { _ in rng.nextFloat() - 0.5 } : nil
        let w = weights.withUnsafeBufferPointer { F32IndirectWeights($0.baseAddress!, outChannels: s.out, k: s.k) }
        for m in 0..<s.out { for j in 0..<s.k { #expect(w.weight(m, j) == weights[m * s.k + j]) } }
        let y = Self.run(w, source, bias, s, threads: 1)
        for m in 0..<s.out {
            for t in 0..<s.frames {
                var sum = Double(bias?[m] ?? 0), magnitude = abs(sum)
                for j in 0..<s.k {
                    let p = Double(weights[m * s.k + j]) * Double(source[3 * j + t])
                    sum += p; magnitude += abs(p)
                }
                let expected = s.relu ? max(sum, 0) : sum
                // fp32 accumulation of k terms: error below k·ε·Σ|terms|.
                let bound = Double(s.k + 1) * Double(Float.ulpOfOne) * magnitude + 1e-30
                #expect(abs(Double(y[m * s.frames + t]) - expected) <= bound, "\(s): y[\(m)][\(t)] \(y[m * s.frames + t]) vs \(expected)")
            }
        }
        #expect(Self.run(w, source, bias, s, threads: 3) == y, "three threads give the same bits")
    }
}
