import Foundation
import SVKernels
import Testing
@testable import SVAutograd

@Suite struct OptimizerTests {
    @Test func adamMatchesPyTorchArithmetic() {
        // torch.optim.Adam(lr=0.1), p = 1, grads 0.5 then −1:
        // t=1: m = 0.05, v = 0.00025; step = 0.1/(1−0.9) = 1; denom = √v/√(1−0.999) + 1e-8 = 0.5 + 1e-8
        //      p = 1 − 0.05/0.50000001 = 0.9000000020
        // t=2: m = 0.9·0.05 − 0.1 = −0.055, v = 0.999·0.00025 + 0.001 = 0.00124975
        //      p = 0.9 − 0.1/0.19 · (−0.055)/(√0.00124975/√0.001999 + 1e-8) = 0.9366103542
        let p = Variable.parameter(Tensor(shape: [1], values: [1]))
        let adam = Adam(parameters: [p], learningRate: 0.1)
        p.grad = [0.5]; adam.step()
        #expect(Swift.abs(p.values[0] - 0.9000000020) < 1e-6)
        p.grad = [-1]; adam.step()
        #expect(Swift.abs(p.values[0] - 0.9366103542) < 1e-6)
        // With weight decay 0.1 (L2 added to the gradient): g₁ = 0.5 + 0.1·1 = 0.6 → p = 0.9000000017;
        // g₂ = −1 + 0.1·0.9 = −0.91, m = −0.037, v = 0.00118774 → p = 0.9252635194.
        let q = Variable.parameter(Tensor(shape: [1], values: [1]))
        let decayed = Adam(parameters: [q], learningRate: 0.1, weightDecay: 0.1)
        q.grad = [0.5]; decayed.step()
        q.grad = [-1]; decayed.step()
        #expect(Swift.abs(q.values[0] - 0.9252635194) < 1e-6)
    }

    /// A parameter added by a later stage (offset = the shared step count then) steps like a fresh
    /// Adam's first step, lr·g/(|g| + ε'), not with the base's bias correction.
    @Test func aParameterWithAStepOffsetStartsItsOwnBiasCorrection() {
        let old = Variable.parameter(Tensor(shape: [1], values: [0])), new = Variable.parameter(Tensor(shape: [1], values: [0]))
        let adam = Adam(parameters: [old, new], learningRate: 0.01)
        adam.stepCount = 500
        adam.stepOffsets[1] = 500
        old.grad = [2]; new.grad = [2]
        adam.step()
        #expect(abs(new.value.values[0] - -0.01) < 1e-6, "fresh: \(new.value.values[0])")
        // Without the offset the same first gradient moves lr·0.2/(√0.004/√(1−0.999^501)) ≈ 0.0199: twice as far.
        #expect(abs(old.value.values[0] - -0.01986) < 2e-4, "inherited clock: \(old.value.values[0])")
    }

    @Test func sgdMomentumDecaysOnlyMatrices() {
        // torch.optim.SGD(lr=0.1, momentum=0.9, weight_decay=0.01) on a 2-D W and (no decay) a 1-D b,
        // both 2.0 with gradient 1.0 on each of two steps:
        // W: d = 1 + 0.01·2 = 1.02, buf = 1.02, W = 2 − 0.102 = 1.898;
        //    d = 1 + 0.01·1.898 = 1.01898, buf = 0.9·1.02 + 1.01898 = 1.93698, W = 1.898 − 0.193698 = 1.704302
        // b: buf = 1, b = 1.9; buf = 0.9 + 1 = 1.9, b = 1.9 − 0.19 = 1.71
        let w = Variable.parameter(Tensor(shape: [1, 1], values: [2]))
        let b = Variable.parameter(Tensor(shape: [1], values: [2]))
        let sgd = SGD(parameters: [w, b], learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)
        for _ in 0..<2 { w.grad = [1]; b.grad = [1]; sgd.step() }
        #expect(Swift.abs(w.values[0] - 1.704302) < 1e-6)
        #expect(Swift.abs(b.values[0] - 1.71) < 1e-6)
        // Nesterov, no decay: step 1 d = 1 + 0.9·1 = 1.9 → 1.81; step 2 buf = 1.9, d = 1 + 1.71 = 2.71 → 1.539
        let n = Variable.parameter(Tensor(shape: [1], values: [2]))
        let nag = SGD(parameters: [n], learningRate: 0.1, momentum: 0.9, nesterov: true)
        for _ in 0..<2 { n.grad = [1]; nag.step() }
        #expect(Swift.abs(n.values[0] - 1.539) < 1e-6)
    }

    @Test func stepDecaySchedule() {
        // sslsv default: 1e-3 · 0.95^⌊epoch/5⌋; epochs 100–104 give 3.585e-4 (reference-sslsv.md §3).
        let s = StepDecaySchedule(base: 1e-3, gamma: 0.95, stepSize: 5)
        #expect(s.learningRate(at: 0) == 1e-3 && s.learningRate(at: 4) == 1e-3)
        #expect(Swift.abs(s.learningRate(at: 5) - 9.5e-4) < 1e-9)
        #expect(Swift.abs(s.learningRate(at: 104) - 3.5849e-4) < 1e-8)
        #expect(Swift.abs(s.learningRate(at: 119) - 3.0736e-4) < 1e-8)
    }

    @Test func warmupCosineSchedule() {
        // Warm-up 0 → 1 over steps 0…4 (linspace), then ½(1 + cos(π·i/8)) for i = step − 5.
        let s = WarmupCosineSchedule(base: 1, final: 0, warmupStart: 0, warmupSteps: 5, totalSteps: 13)
        let expected: [Float] = [0, 0.25, 0.5, 0.75, 1, 1, 0.9619398, 0.8535534, 0.6913417, 0.5, 0.3086583, 0.1464466, 0.0380602, 0]
        for (i, e) in expected.enumerated() { #expect(Swift.abs(s.learningRate(at: i) - e) < 1e-6, "step \(i)") }
    }

    @Test func tinyRegressionConverges() {
        // y = X·w* + b* with w* = (1.5, −2, 0.5), b* = 0.3, fitted by Adam on the MSE.
        var rng = SplitMix64(seed: 40)
        let x = Tensor(shape: [32, 3], uniform: -1, 1, rng: &rng)
        let target = Ref.linear(x.values.map(Double.init), n: 32, fin: 3, [1.5, -2, 0.5], fout: 1, [0.3]).map(Float.init)
        let w = Variable.parameter(Tensor(zeros: [1, 3])), b = Variable.parameter(Tensor(zeros: [1]))
        let adam = Adam(parameters: [w, b], learningRate: 0.05)
        var losses: [Float] = []
        for _ in 0..<300 {
            let g = Graph()
            let err = g.sub(g.linear(Variable(x), weight: w, bias: b), Variable(Tensor(shape: [32, 1], values: target)))
            let loss = g.mean(g.mul(err, err))
            losses.append(loss.values[0])
            adam.zeroGrad()
            g.backward(from: loss)
            adam.step()
        }
        #expect(losses.last! < 1e-5, "final loss \(losses.last!)")
        #expect(maxAbs(w.values + b.values, [1.5, -2, 0.5, 0.3]) < 1e-2)
    }

    @Test func tinyClassifierWithAAMSoftmaxLearns() {
        // Four separable classes in 2-D; normalised embeddings and class centres, ArcFace logits, SGD.
        var rng = SplitMix64(seed: 41)
        let centres: [[Float]] = [[1, 0], [0, 1], [-1, 0], [0, -1]]
        var xs: [Float] = [], labels: [Int] = []
        for i in 0..<32 {
            let c = i % 4
            xs += [centres[c][0] + 0.3 * (rng.nextFloat() - 0.5), centres[c][1] + 0.3 * (rng.nextFloat() - 0.5)]
            labels.append(c)
        }
        let x = Variable(Tensor(shape: [32, 2], values: xs))
        let embed = Variable.parameter(Tensor(shape: [4, 2], uniform: -1, 1, rng: &rng))
        let classes = Variable.parameter(Tensor(shape: [4, 4], uniform: -1, 1, rng: &rng))
        let opt = SGD(parameters: [embed, classes], learningRate: 0.05, momentum: 0.9)
        var first: Float = 0, last: Float = 0
        for step in 0..<60 {
            let g = Graph()
            let z = g.l2Normalize(g.linear(x, weight: embed))
            let cos = g.linear(z, weight: g.l2Normalize(classes))
            let loss = g.crossEntropy(g.aamSoftmaxLogits(cos, targets: labels, scale: 10, margin: 0.2), targets: labels)
            if step == 0 { first = loss.values[0] }
            last = loss.values[0]
            opt.zeroGrad(); g.backward(from: loss); opt.step()
        }
        #expect(last < 0.25 * first, "loss \(first) → \(last)")
    }
}
