import Foundation
import SVKernels
import Testing
@testable import SVAutograd

/// One finite-difference check per op backward (inputs and parameters).
@Suite struct OpGradientTests {
    struct ConvCase: CustomStringConvertible, Sendable {
        let kernel: Int, dilation: Int, padding: PaddingMode, bias: Bool
        var description: String { "k\(kernel) d\(dilation) \(padding.rawValue)\(bias ? " bias" : "")" }
    }

    @Test(arguments: [
        ConvCase(kernel: 3, dilation: 1, padding: .reflect, bias: true),
        ConvCase(kernel: 3, dilation: 2, padding: .reflect, bias: true),
        ConvCase(kernel: 5, dilation: 1, padding: .reflect, bias: false),
        ConvCase(kernel: 3, dilation: 3, padding: .zeros, bias: true),
        ConvCase(kernel: 3, dilation: 3, padding: .reflect, bias: false),
        ConvCase(kernel: 5, dilation: 1, padding: .zeros, bias: false),
        ConvCase(kernel: 1, dilation: 1, padding: .reflect, bias: true),
    ])
    func conv1d(_ c: ConvCase) {
        let n = 2, cin = 3, cout = 4, t = 8
        var inputs = [randomTensor([n, cin, t], seed: 1), randomTensor([cout, cin, c.kernel], -0.5, 0.5, seed: 2)]
        if c.bias { inputs.append(randomTensor([cout], seed: 3)) }
        GradientCheck().run("conv1d \(c)", inputs: inputs, build: { g, v in
            g.conv1d(v[0], weight: v[1], bias: c.bias ? v[2] : nil, dilation: c.dilation, padding: c.padding)
        }, reference: { x in
            Ref.conv1d(x[0], n: n, cin: cin, t: t, x[1], cout: cout, k: c.kernel, c.bias ? x[2] : nil,
                       dilation: c.dilation, padding: c.padding)
        })
    }

    @Test(arguments: [[2, 3, 5], [6, 4]])
    func batchNormTrain(_ shape: [Int]) {
        let c = shape[1], t = shape.count == 3 ? shape[2] : 1
        let inputs = [randomTensor(shape, -2, 2, seed: 4), randomTensor([c], 0.5, 1.5, seed: 5), randomTensor([c], seed: 6)]
        GradientCheck().run("batchNorm train \(shape)", inputs: inputs, build: { g, v in
            let bn = BatchNormLayer(weight: v[1], bias: v[2], runningMean: .buffer(Tensor(zeros: [c])),
                                    runningVar: .buffer(Tensor(shape: [c], repeating: 1)))
            return g.batchNorm(v[0], bn)
        }, reference: { x in Ref.batchNorm(x[0], n: shape[0], c: c, t: t, gamma: x[1], beta: x[2]) })
    }

    @Test(arguments: [[2, 3, 5], [6, 4]])
    func batchNormEval(_ shape: [Int]) {
        let c = shape[1], t = shape.count == 3 ? shape[2] : 1
        let mean = randomTensor([c], seed: 7), variance = randomTensor([c], 0.5, 2, seed: 8)
        let inputs = [randomTensor(shape, -2, 2, seed: 4), randomTensor([c], 0.5, 1.5, seed: 5), randomTensor([c], seed: 6)]
        GradientCheck().run("batchNorm eval \(shape)", inputs: inputs, training: false, build: { g, v in
            let bn = BatchNormLayer(weight: v[1], bias: v[2], runningMean: .buffer(mean), runningVar: .buffer(variance))
            return g.batchNorm(v[0], bn)
        }, reference: { x in
            Ref.batchNorm(x[0], n: shape[0], c: c, t: t, gamma: x[1], beta: x[2],
                          mean: mean.values.map(Double.init), variance: variance.values.map(Double.init))
        })
    }

    enum Unary: String, CaseIterable, Sendable { case relu, gelu, sigmoid, tanh, sqrt, clampMin }

    @Test(arguments: Unary.allCases)
    func unary(_ op: Unary) {
        let x = op == .sqrt ? randomTensor([3, 7], 0.2, 2, seed: 9) : awayFromZero([3, 7], seed: 9)
        GradientCheck().run(op.rawValue, inputs: [x], build: { g, v in
            switch op {
            case .relu: g.relu(v[0])
            case .gelu: g.gelu(v[0])
            case .sigmoid: g.sigmoid(v[0])
            case .tanh: g.tanh(v[0])
            case .sqrt: g.sqrt(v[0])
            case .clampMin: g.clampMin(v[0], 0)
            }
        }, reference: { x in
            x[0].map { v in
                switch op {
                case .relu, .clampMin: max(0, v)
                case .gelu: 0.5 * v * (1 + erf(v / 2.0.squareRoot()))
                case .sigmoid: 1 / (1 + Foundation.exp(-v))
                case .tanh: Foundation.tanh(v)
                case .sqrt: v.squareRoot()
                }
            }
        })
    }

    @Test func affineSumMean() {
        let x = randomTensor([2, 3], seed: 10)
        GradientCheck().run("affine", inputs: [x], build: { g, v in g.affine(v[0], scale: -1.5, shift: 0.25) },
                            reference: { x in x[0].map { -1.5 * $0 + 0.25 } })
        GradientCheck().run("sum", inputs: [x], build: { g, v in g.sum(v[0]) }, reference: { x in [x[0].reduce(0, +)] })
        GradientCheck().run("mean", inputs: [x], build: { g, v in g.mean(v[0]) }, reference: { x in [x[0].reduce(0, +) / 6] })
    }

    @Test func softmaxAndLogSoftmax() {
        let x = randomTensor([2, 3, 6], -2, 2, seed: 11)
        GradientCheck().run("softmax", inputs: [x], build: { g, v in g.softmax(v[0]) },
                            reference: { x in Ref.softmax(x[0], cols: 6) })
        GradientCheck().run("logSoftmax", inputs: [x], build: { g, v in g.logSoftmax(v[0]) },
                            reference: { x in Ref.logSoftmax(x[0], cols: 6) })
    }

    @Test func meanOverTime() {
        GradientCheck().run("meanLast", inputs: [randomTensor([2, 3, 5], seed: 12)], build: { g, v in g.meanLast(v[0]) },
                            reference: { x in Ref.meanLast(x[0], cols: 5) })
    }

    @Test func statisticsPooling() {
        GradientCheck().run("meanStd", inputs: [randomTensor([2, 3, 6], seed: 13)], build: { g, v in g.meanStd(v[0]) },
                            reference: { x in Ref.meanStd(x[0], n: 2, c: 3, t: 6) })
    }

    @Test func weightedStatistics() {
        // Arbitrary positive weights (rows need not sum to one) exercise the ∂var/∂μ term.
        let inputs = [randomTensor([2, 3, 6], seed: 14), randomTensor([2, 3, 6], 0.05, 0.4, seed: 15)]
        GradientCheck().run("weightedMeanStd", inputs: inputs, build: { g, v in g.weightedMeanStd(v[0], weights: v[1]) },
                            reference: { x in Ref.weightedMeanStd(x[0], x[1], n: 2, c: 3, t: 6) })
    }

    @Test func sliceChunkConcatReshape() {
        let a = randomTensor([2, 4, 3], seed: 16), b = randomTensor([2, 2, 3], seed: 17)
        GradientCheck().run("concat+chunk", inputs: [a, b], build: { g, v in
            let parts = g.chunk(g.concat([v[0], v[1]], axis: 1), 3, axis: 1)
            // Reorder the chunks and scale one, so every path carries a distinct gradient.
            return g.concat([parts[2], g.affine(parts[0], scale: 2), parts[1]], axis: 1)
        }, reference: { x in
            var y: [Double] = []
            for s in 0..<2 {
                let cat = Array(x[0][(s * 12)..<(s * 12 + 12)]) + Array(x[1][(s * 6)..<(s * 6 + 6)])
                let doubled: [Double] = cat[0..<6].map { 2 * $0 }
                y += Array(cat[12..<18])
                y += doubled
                y += Array(cat[6..<12])
            }
            return y
        })
        GradientCheck().run("slice axis 2 + reshape", inputs: [a], build: { g, v in
            g.reshape(g.slice(v[0], axis: 2, 1..<3), [4, 4])
        }, reference: { x in
            var y: [Double] = []
            for r in 0..<8 { y.append(x[0][r * 3 + 1]); y.append(x[0][r * 3 + 2]) }
            return y
        })
    }

    @Test(arguments: [("add", [2, 3, 4], [2, 3, 4]), ("add", [2, 3, 4], [1, 3, 1]), ("sub", [2, 3, 1], [2, 3, 4]),
                      ("mul", [2, 3, 4], [2, 3, 1]), ("mul", [1, 3, 4], [2, 1, 4])])
    func broadcasting(_ op: String, _ sa: [Int], _ sb: [Int]) {
        let inputs = [randomTensor(sa, seed: 18), randomTensor(sb, seed: 19)]
        GradientCheck().run("\(op) \(sa)·\(sb)", inputs: inputs, build: { g, v in
            switch op { case "add": g.add(v[0], v[1]); case "sub": g.sub(v[0], v[1]); default: g.mul(v[0], v[1]) }
        }, reference: { x in
            Ref.broadcast(x[0], sa, x[1], sb) { a, b in op == "add" ? a + b : op == "sub" ? a - b : a * b }
        })
    }

    @Test func broadcastTo() {
        let c = randomTensor([2, 3, 1], seed: 20)
        GradientCheck().run("broadcast to", inputs: [c], build: { g, v in g.broadcast(v[0], to: [2, 3, 4]) },
                            reference: { x in x[0].flatMap { [$0, $0, $0, $0] } })
    }

    @Test func linear() {
        let inputs = [randomTensor([3, 5], seed: 21), randomTensor([4, 5], seed: 22), randomTensor([4], seed: 23)]
        GradientCheck().run("linear", inputs: inputs, build: { g, v in g.linear(v[0], weight: v[1], bias: v[2]) },
                            reference: { x in Ref.linear(x[0], n: 3, fin: 5, x[1], fout: 4, x[2]) })
        GradientCheck().run("linear Gram Z·Zᵀ", inputs: [inputs[0]], build: { g, v in g.linear(v[0], weight: v[0]) },
                            reference: { x in Ref.linear(x[0], n: 3, fin: 5, x[0], fout: 3, nil) })
    }

    @Test func l2Normalize() {
        GradientCheck().run("l2Normalize", inputs: [randomTensor([3, 5], seed: 24)], build: { g, v in g.l2Normalize(v[0]) },
                            reference: { x in Ref.l2Normalize(x[0], cols: 5) })
    }

    @Test func crossEntropy() {
        let targets = [2, 0, 3]
        GradientCheck().run("crossEntropy", inputs: [randomTensor([3, 4], -3, 3, seed: 25)],
                            build: { g, v in g.crossEntropy(v[0], targets: targets) },
                            reference: { x in [Ref.crossEntropy(x[0], k: 4, targets: targets)] })
    }

    @Test func aamSoftmax() {
        // Row 1's target cosine (−0.99) is below cos(π − m): the fallback branch.
        var cos = randomTensor([3, 4], -0.9, 0.9, seed: 26)
        let targets = [1, 3, 0]
        cos.values[1 * 4 + 3] = -0.99
        GradientCheck().run("aamSoftmaxLogits", inputs: [cos], build: { g, v in
            g.aamSoftmaxLogits(v[0], targets: targets, scale: 30, margin: 0.2)
        }, reference: { x in Ref.aam(x[0], k: 4, targets: targets, s: 30, m: 0.2) })
    }

    @Test func fillDiagonalAndNTXent() {
        GradientCheck().run("fillDiagonal", inputs: [randomTensor([3, 3], seed: 27)], build: { g, v in g.fillDiagonal(v[0], -5) },
                            reference: { x in x[0].enumerated().map { $0.offset % 4 == 0 ? -5 : $0.element } })
        let z1 = randomTensor([3, 4], seed: 28), z2 = randomTensor([3, 4], seed: 29)
        GradientCheck(tolerance: 5e-3).run("ntXent τ=0.5", inputs: [z1, z2], build: { g, v in g.ntXent(v[0], v[1], temperature: 0.5) },
                                           reference: { x in
            let z = Ref.l2Normalize(x[0] + x[1], cols: 4)
            var logits = Ref.linear(z, n: 6, fin: 4, z, fout: 6, nil).map { $0 / 0.5 }
            for i in 0..<6 { logits[i * 6 + i] = -.infinity }
            return [Ref.crossEntropy(logits, k: 6, targets: [3, 4, 5, 0, 1, 2])]
        })
    }

    /// Distillation: mean 1 − cos against fixed unit targets, through a linear head as the trainer uses it.
    @Test func cosineDistillation() {
        let s = randomTensor([3, 4], seed: 41), w = randomTensor([5, 4], seed: 42)
        let raw = randomTensor([3, 5], seed: 43).values.map(Double.init)
        let t = Ref.l2Normalize(raw, cols: 5)
        let targets = Tensor(shape: [3, 5], values: t.map(Float.init))
        for scale: Float in [1, 2] {
            GradientCheck().run("cosineDistillation ×\(scale)", inputs: [s, w], build: { g, v in
                g.cosineDistillation(g.linear(v[0], weight: v[1]), teacher: targets, scale: scale)
            }, reference: { x in
                let mapped = Ref.l2Normalize(Ref.linear(x[0], n: 3, fin: 4, x[1], fout: 5, nil), cols: 5)
                var agreement = 0.0
                for i in 0..<15 { agreement += mapped[i] * t[i] }
                return [Double(scale) * (1 - agreement / 3)]
            })
        }
        // The value itself: identical rows give 0, opposite rows 2·scale.
        let g = Graph(training: false, recording: false)
        let same = g.cosineDistillation(Variable(targets), teacher: targets, scale: 1)
        let opposite = g.cosineDistillation(Variable(Tensor(shape: [3, 5], values: targets.values.map { -3 * $0 })), teacher: targets, scale: 2)
        #expect(abs(same.values[0]) < 1e-6 && abs(opposite.values[0] - 4) < 1e-5)
    }

    @Test func amSoftmax() {
        let targets = [1, 3, 0]
        GradientCheck().run("amSoftmaxLogits", inputs: [randomTensor([3, 4], -0.9, 0.9, seed: 31)], build: { g, v in
            g.amSoftmaxLogits(v[0], targets: targets, scale: 30, margin: 0.5)
        }, reference: { x in x[0].enumerated().map { 30 * ($0.element - ($0.offset % 4 == targets[$0.offset / 4] ? 0.5 : 0)) } })
    }

    @Test func magnetoPairLoss() {
        // 8 rows from 4 speakers: 5 target and 23 non-target pairs, of which the 10 highest (40 %) count.
        let labels = [0, 0, 1, 1, 2, 2, 2, 3], n = 8
        var cos = randomTensor([n, n], -0.6, 0.9, seed: 32).values
        for i in 0..<n { for j in 0..<i { cos[i * n + j] = cos[j * n + i] } }
        let pairs = MagNetOPairs(cosine: cos, labels: labels)
        let alpha = 0.05
        func reference(_ x: [[Double]]) -> [Double] {
            let a = x[0], b = x[1][0], logOdds = Foundation.log(alpha / (1 - alpha))
            var t: [Double] = [], nt: [Double] = []
            for i in 0..<n { for j in (i + 1)..<n {
                let l = a[i] * a[j] * Double(cos[i * n + j]) + b
                if labels[i] == labels[j] { t.append(l) } else { nt.append(l) }
            } }
            let hard = nt.sorted(by: >).prefix(Int((0.4 * Double(nt.count)).rounded(.up)))
            let lt = t.reduce(0.0) { $0 + Foundation.log1p(Foundation.exp(-($1 + logOdds))) } / Double(t.count)
            let ln = hard.reduce(0.0) { $0 + Foundation.log1p(Foundation.exp($1 + logOdds)) } / Double(hard.count)
            return [alpha * lt + (1 - alpha) * ln]
        }
        GradientCheck().run("magnetoPairLoss", inputs: [randomTensor([n], 0.5, 3, seed: 33), Tensor(shape: [1], values: [-2])],
                            build: { g, v in g.magnetoPairLoss(magnitudes: v[0], offset: v[1], pairs: pairs, targetPrior: alpha) },
                            reference: reference)
    }
}
