import Foundation
import SVKernels
import Testing
@testable import SVAutograd

/// DINO's new op (soft-target cross-entropy), its weight-normalised last layer, head, clipping,
/// teacher momentum and the paper-era LR schedule. Literals: tools/reference/dino_reference.py
/// (torch 2.11.0), inputs rebuilt from the same SplitMix64 seeds.
@Suite struct DINOOpTests {
    @Test func softTargetCrossEntropyGradient() {
        // Targets that do not sum to one (DINO's local rows carry two teacher distributions).
        let logits = randomTensor([3, 5], -3, 3, seed: 41)
        var targets = randomTensor([3, 5], 0, 1, seed: 42)
        targets.values[7] = 0
        GradientCheck().run("softTargetCrossEntropy", inputs: [logits], build: { g, v in
            g.softTargetCrossEntropy(v[0], targets: targets)
        }, reference: { x in
            let ls = Ref.logSoftmax(x[0], cols: 5), t = targets.values.map(Double.init)
            var s = 0.0
            for i in 0..<ls.count { s -= t[i] * ls[i] }
            return [s / 3]
        })
    }

    @Test func softTargetCrossEntropyWithOneHotTargetsIsCrossEntropy() {
        let x = randomTensor([4, 6], -2, 2, seed: 43), labels = [5, 0, 2, 2]
        var onehot = Tensor(zeros: [4, 6])
        for (r, l) in labels.enumerated() { onehot.values[r * 6 + l] = 1 }
        let a = Graph().softTargetCrossEntropy(Variable(x), targets: onehot).values[0]
        let b = Graph().crossEntropy(Variable(x), targets: labels).values[0]
        #expect(Swift.abs(a - b) < 1e-5)
    }

    @Test func weightNormalisedLinearGradient() {
        // DINO's last layer with the gain fixed at 1: x · (V / ‖V‖_rows)ᵀ.
        GradientCheck().run("weight-normalised linear", inputs: [randomTensor([3, 4], seed: 44), randomTensor([5, 4], seed: 45)],
                            build: { g, v in g.linear(v[0], weight: g.l2Normalize(v[1])) },
                            reference: { x in Ref.linear(x[0], n: 3, fin: 4, Ref.l2Normalize(x[1], cols: 4), fout: 5, nil) })
    }

    @Test func headLogitsAreCosinesAndTheInitIsTheReferences() {
        let head = DINOHead(input: 8, hidden: 16, bottleneck: 6, prototypes: 10, seed: 3)
        #expect(head.parameters.map(\.name) == ["mlp.0.weight", "mlp.0.bias", "mlp.1.weight", "mlp.1.bias", "mlp.3.weight", "mlp.3.bias",
                                                "mlp.4.weight", "mlp.4.bias", "mlp.6.weight", "mlp.6.bias", "last_layer.weight_v"])
        #expect(head.buffers.map(\.name) == ["mlp.1.running_mean", "mlp.1.running_var", "mlp.4.running_mean", "mlp.4.running_var"])
        #expect(head.linear1.bias.values.allSatisfy { $0 == 0 } && head.linear3.bias.values.allSatisfy { $0 == 0 })
        // trunc-normal(std 0.02): sample std near 0.02 over the 16·16 hidden weights.
        let w = head.linear2.weight.values.map(Double.init)
        let std = (w.map { $0 * $0 }.reduce(0, +) / Double(w.count)).squareRoot()
        #expect(std > 0.016 && std < 0.024)
        #expect(head.lastLayer.values.allSatisfy { Swift.abs($0) <= 1 / Float(6).squareRoot() })
        let y = head.forward(Graph(training: true), Variable(randomTensor([4, 8], seed: 46)))
        #expect(y.shape == [4, 10] && y.values.allSatisfy { Swift.abs($0) <= 1 + 1e-5 })
        // Rows of a head output dotted with unit prototypes: a prototype equal to a row's direction gives 1.
        let g = Graph(training: false, recording: false)
        let x = Variable(randomTensor([2, 8], seed: 47))
        var h = g.gelu(g.batchNorm(g.linear(x, weight: head.linear1.weight, bias: head.linear1.bias), head.norm1))
        h = g.gelu(g.batchNorm(g.linear(h, weight: head.linear2.weight, bias: head.linear2.bias), head.norm2))
        let z = g.l2Normalize(g.linear(h, weight: head.linear3.weight, bias: head.linear3.bias)).values
        head.lastLayer.value.values.replaceSubrange(0..<6, with: z[0..<6].map { $0 * 3 })
        #expect(Swift.abs(head.forward(g, x).values[0] - 1) < 1e-5)
    }

    @Test func clippingMatchesDINOsClipGradients() {
        let big = Variable.parameter(Tensor(zeros: [3, 4])), small = Variable.parameter(Tensor(zeros: [2, 3])), none = Variable.parameter(Tensor(zeros: [2]))
        big.grad = randomTensor([3, 4], -2, 2, seed: 21).values
        small.grad = randomTensor([2, 3], -0.5, 0.5, seed: 22).values
        let norms = clipGradientNorms([big, small, none], maxNorm: 3)
        #expect(norms[0]! > 3 && norms[1]! < 3 && norms[2] == nil && none.grad == nil)
        let clippedBig: [Double] = [-1.4117132425308228, 1.2381962537765503, 0.07446101307868958, 0.45044851303100586, -1.2221369743347168, -0.13045471906661987, 1.0358662605285645, -1.2447761297225952, -0.4219467043876648, 0.575023353099823, 0.7779555916786194, 0.13583843410015106]
        let clippedSmall: [Double] = [0.2814617156982422, 0.4359361529350281, -0.42345112562179565, 0.1724439263343811, 0.3326038718223572, 0.28733503818511963]
        for (a, b) in zip(big.grad!, clippedBig) { #expect(Swift.abs(Double(a) - b) < 1e-6) }
        for (a, b) in zip(small.grad!, clippedSmall) { #expect(Double(a) == b) }
    }

    @Test func teacherMomentumAndEMAMatchTheReference() {
        let taus: [Double] = [0.996, 0.9960246233188097, 0.9960978869674096, 0.9962179869516232, 0.9963819660112501, 0.9965857864376269, 0.996824429495415, 0.9970920190005209, 0.9973819660112501, 0.9976871310699196, 0.998, 0.9983128689300804, 0.9986180339887499, 0.9989079809994791, 0.9991755705045849, 0.9994142135623731, 0.9996180339887499, 0.9997820130483768, 0.9999021130325904, 0.9999753766811903]
        for (s, tau) in taus.enumerated() { #expect(Swift.abs(teacherMomentum(step: s, totalSteps: 20, base: 0.996) - tau) < 1e-15) }
        #expect(teacherMomentum(step: 20, totalSteps: 20, base: 0.996) == 1)
        let t = Variable.parameter(randomTensor([7], seed: 31)), s = Variable.parameter(randomTensor([7], seed: 32))
        momentumUpdate(teacher: [t], student: [s], tau: taus[5])
        let ema: [Double] = [0.6829434037208557, 0.47426557540893555, 0.008197343908250332, 0.0823492631316185, 0.19293451309204102, -0.34010425209999084, -0.21157056093215942]
        for (a, b) in zip(t.values, ema) { #expect(Swift.abs(Double(a) - b) < 1e-7) }
    }

    @Test func paperEraDINOScheduleIsTheConcatenatedWarmupAndCosine() {
        // 3 steps per epoch, warm-up 2 epochs (linspace 0 → 0.2 over 6 steps), cosine over 5 × 3 steps appended.
        let s = WarmupCosineSchedule.concatenated(base: 0.2, final: 1e-5, warmupSteps: 6, totalSteps: 15)
        let lrs: [Double] = [0.0, 0.04, 0.08, 0.12, 0.16, 0.2, 0.2, 0.1978148693353769, 0.19135497803697188, 0.18090265435252287, 0.16691471498285404, 0.1500025, 0.13090515435252287, 0.11045732368444901, 0.089552676315551]
        for (i, e) in lrs.enumerated() { #expect(Swift.abs(Double(s.learningRate(at: i)) - e) < 1e-8, "step \(i)") }
        // Reference §4: with 100 scheduled epochs and 10 of warm-up the LR is ≈ 0.0412 at epoch 80, ≈ 0.0191 at 90.
        let spe = 8531
        let paper = WarmupCosineSchedule.concatenated(base: 0.2, final: 1e-5, warmupSteps: 10 * spe, totalSteps: 100 * spe)
        #expect(Swift.abs(paper.learningRate(at: 80 * spe) - 0.0412) < 5e-4)
        #expect(Swift.abs(paper.learningRate(at: 90 * spe) - 0.0191) < 5e-4)
        #expect(Swift.abs(paper.learningRate(at: 100 * spe - 1) - 0.0049) < 5e-4)
        // DINO's own scheduler is unchanged: the cosine ends at totalSteps.
        let own = WarmupCosineSchedule(base: 1, final: 0, warmupSteps: 5, totalSteps: 13)
        #expect(own.cosineSteps == 8 && own.learningRate(at: 13) == 0)
    }
}
