import Foundation
import SVModels
import SVKernels
import Testing
import _SVTestSupport
@testable import SVAutograd

/// The ECAPA-TDNN training graph against SpeechBrain's own ECAPA_TDNN (the fixture the inference
/// core's parity tests use: C = 64, random weights and BN statistics, SpeechBrain's features and
/// embeddings), plus a composite gradient check of the attentive pooling and a short training run.
@Suite struct ECAPATrainingGraphTests {
    /// Same thresholds as the inference core's `ECAPAParityTests`.
    static let minimumCosine = 0.99999
    static let maxEmbeddingDifference: Float = 1e-3

    static let speechBrainC64 = ECAPAConfig(inputSize: 80, channels: [64, 64, 64, 64, 192],
                                                    seChannels: 16, attentionChannels: 16, embeddingSize: 32)

    @Test func tensorNamesAndSizesAreSpeechBrains() throws {
        let weights = try SafeTensorsFixture(path: Fixtures.path("ecapa/speechbrain_c64.safetensors"))
        let model = ECAPATrainingModel(config: Self.speechBrainC64, seed: 1)
        let ours = model.namedTensors
        let theirs = weights.tensors.filter { !$0.key.hasSuffix("num_batches_tracked") }
        #expect(Set(ours.keys) == Set(theirs.keys), "extra: \(Set(ours.keys).subtracting(theirs.keys).sorted()), missing: \(Set(theirs.keys).subtracting(ours.keys).sorted())")
        for (name, v) in ours { #expect(theirs[name]?.shape == v.shape, "\(name): \(v.shape) vs \(theirs[name]?.shape ?? [])") }
    }

    @Test func parameterCountMatchesTheReference() {
        // sslsv's default ECAPA (C 512, MFA 1536, 40 mels, 512-d): 7,075,008 (reference-sslsv.md §2.1).
        let model = ECAPATrainingModel(config: ECAPAConfig(inputSize: 40, embeddingSize: 512), seed: 1)
        #expect(model.parameters.reduce(0) { $0 + $1.count } == 7_075_008)
    }

    @Test func evalForwardMatchesSpeechBrain() throws {
        let weights = try SafeTensorsFixture(path: Fixtures.path("ecapa/speechbrain_c64.safetensors"))
        let golden = try SafeTensorsFixture(path: Fixtures.path("ecapa/speechbrain_c64_golden.safetensors"))
        let model = ECAPATrainingModel(config: Self.speechBrainC64, seed: 1)
        try model.load { weights.tensors[$0]?.floats }
        let f = try #require(golden.tensors["speech_a_3s/features"])   // (frames, mels)
        let frames = f.shape[0], mels = f.shape[1], v = f.floats
        var x = [Float](repeating: 0, count: v.count)
        for t in 0..<frames { for m in 0..<mels { x[m * frames + t] = v[t * mels + m] } }
        let g = Graph(training: false, recording: false)
        let ours = model.forward(g, features: Variable(Tensor(shape: [1, mels, frames], values: x))).values
        let theirs = try #require(golden.tensors["speech_a_3s/embedding"]).floats
        let cosine = cosineSimilarity(ours, theirs)
        #expect(cosine >= Self.minimumCosine, "cosine \(cosine); first \(ours.prefix(5)) vs \(theirs.prefix(5))")
        #expect(maxAbsDifference(ours, theirs) < Self.maxEmbeddingDifference)
        print("ECAPA eval parity vs SpeechBrain: cosine \(cosine), max abs diff \(maxAbsDifference(ours, theirs))")
    }

    @Test func attentivePoolingGradientCheck() {
        // Composite check of SpeechBrain's ASP with global context, BN in train mode.
        let n = 2, c = 3, t = 6, a = 2
        let inputs = [randomTensor([n, c, t], seed: 50), randomTensor([a, 3 * c, 1], -0.8, 0.8, seed: 51),
                      randomTensor([a], seed: 52), randomTensor([a], 0.5, 1.5, seed: 53), randomTensor([a], seed: 54),
                      randomTensor([c, a, 1], -0.8, 0.8, seed: 55), randomTensor([c], seed: 56)]
        // Tolerance 5e-3: the train-mode BN on 12 values inside leaves Float round-off ~1e-3 on the
        // smallest checked gradients.
        GradientCheck(tolerance: 5e-3).run("attentiveStatisticsPooling (global context)", inputs: inputs, build: { g, v in
            let tdnn = TDNNLayer(conv: ConvLayer(weight: v[1], bias: v[2]),
                                 norm: BatchNormLayer(weight: v[3], bias: v[4], runningMean: .buffer(Tensor(zeros: [a])),
                                                      runningVar: .buffer(Tensor(shape: [a], repeating: 1))))
            return g.attentiveStatisticsPooling(v[0], attention: tdnn, output: ConvLayer(weight: v[5], bias: v[6]),
                                                globalContext: true)
        }, reference: { p in
            let x = p[0]
            let stats = Ref.meanStd(x, n: n, c: c, t: t)
            var input: [Double] = []
            for s in 0..<n {
                input += x[(s * c * t)..<((s + 1) * c * t)]
                for k in 0..<(2 * c) { input += [Double](repeating: stats[s * 2 * c + k], count: t) }
            }
            let h = Ref.conv1d(input, n: n, cin: 3 * c, t: t, p[1], cout: a, k: 1, p[2], dilation: 1, padding: .reflect)
            let bn = Ref.batchNorm(h.map { max(0, $0) }, n: n, c: a, t: t, gamma: p[3], beta: p[4]).map { Foundation.tanh($0) }
            let logits = Ref.conv1d(bn, n: n, cin: a, t: t, p[5], cout: c, k: 1, p[6], dilation: 1, padding: .reflect)
            return Ref.weightedMeanStd(x, Ref.softmax(logits, cols: t), n: n, c: c, t: t)
        })
    }

    @Test func tinyECAPATrainsOnAFixedBatch() {
        // Recorded 10-step loss curve (llm.c style): supervised AAM-softmax on 4 utterances of 2
        // speakers; the loss must fall, every gradient must be finite, running stats must move.
        let config = ECAPAConfig(inputSize: 8, channels: [16, 16, 16, 16, 48], res2netScale: 4,
                                         seChannels: 8, attentionChannels: 8, embeddingSize: 8)
        let model = ECAPATrainingModel(config: config, seed: 3)
        var rng = SplitMix64(seed: 60)
        let x = Variable(Tensor(shape: [4, 8, 24], uniform: -1, 1, rng: &rng))
        let classes = Variable.parameter(Tensor(shape: [2, 8], uniform: -1, 1, rng: &rng))
        let labels = [0, 1, 0, 1]
        let adam = Adam(parameters: model.parameters + [classes], learningRate: 2e-3)
        var losses: [Float] = []
        for _ in 0..<10 {
            let g = Graph(training: true)
            let z = g.l2Normalize(model.forward(g, features: x))
            let cos = g.linear(z, weight: g.l2Normalize(classes))
            let loss = g.crossEntropy(g.aamSoftmaxLogits(cos, targets: labels, scale: 30, margin: 0.2), targets: labels)
            losses.append(loss.values[0])
            adam.zeroGrad()
            g.backward(from: loss)
            #expect(model.parameters.allSatisfy { $0.grad?.allSatisfy { $0.isFinite } ?? false }, "every parameter gets a finite gradient")
            adam.step()
        }
        print("tiny ECAPA AAM loss curve: \(losses.map { String(format: "%.4f", $0) }.joined(separator: " "))")
        #expect(losses.last! < 0.5 * losses.first!, "loss \(losses)")
        #expect(model.first.norm.runningMean.values.contains { $0 != 0 })
    }

    @Test(arguments: [true, false])
    func wholeModelBackwardMatchesFloatDifferences(training: Bool) {
        // End-to-end wiring check of the full tiny ECAPA (train mode: batch statistics; eval mode:
        // running statistics): the analytic gradient of ⟨r, embeddings⟩ against central differences
        // of the Float graph itself. h = 1e-4: many ReLUs make larger steps cross kinks (at h = 3e-3
        // some elements are off by 25 %, converging to the analytic value as h shrinks); points whose
        // quotient changes between h and 2h are skipped as kinks. Float round-off limits agreement
        // to ~1 %, so the bound is 5 % of the gradient scale — a wrong or missing path is off by O(1).
        let config = ECAPAConfig(inputSize: 6, channels: [8, 8, 8, 8, 24], res2netScale: 4,
                                         seChannels: 4, attentionChannels: 4, embeddingSize: 5)
        let model = ECAPATrainingModel(config: config, seed: 5)
        var rng = SplitMix64(seed: 70)
        let x = Variable(Tensor(shape: [3, 6, 12], uniform: -1, 1, rng: &rng), requiresGrad: true)
        let r = (0..<15).map { _ in Double(2 * rng.nextFloat() - 1) }
        func loss() -> Double {
            let y = model.forward(Graph(training: training, recording: false), features: x).values
            return zip(y, r).reduce(0.0) { $0 + Double($1.0) * $1.1 }
        }
        let g = Graph(training: training)
        g.backward(from: model.forward(g, features: x), seed: r.map(Float.init))
        let named = model.namedTensors
        let checked: [Variable] = [x, named["blocks.0.conv.conv.weight"]!, named["blocks.2.res2net_block.blocks.1.conv.conv.weight"]!,
                                   named["blocks.1.se_block.conv1.conv.weight"]!, named["blocks.3.tdnn2.norm.norm.weight"]!,
                                   named["mfa.conv.conv.weight"]!, named["asp.tdnn.conv.conv.weight"]!,
                                   named["asp.conv.conv.bias"]!, named["asp_bn.norm.bias"]!, named["fc.conv.weight"]!]
        let scale = Double(checked.flatMap { $0.grad! }.map { Swift.abs($0) }.max()!)
        var worst = 0.0, skipped = 0, total = 0
        for v in checked {
            let analytic = v.grad!
            for j in Swift.stride(from: 0, to: v.count, by: max(1, v.count / 6)) {
                func quotient(_ h: Float) -> Double {
                    let old = v.value.values[j]
                    v.value.values[j] = old + h; let plus = loss()
                    v.value.values[j] = old - h; let minus = loss()
                    v.value.values[j] = old
                    return (plus - minus) / Double(2 * h)
                }
                total += 1
                let coarse = quotient(2e-4), numeric = quotient(1e-4)
                // A ReLU kink within h: the quotient jumps between step sizes (seen: −0.339 vs −0.286).
                if Swift.abs(coarse - numeric) > 0.02 * max(Swift.abs(numeric), 0.05 * scale) { skipped += 1; continue }
                let err = Swift.abs(numeric - Double(analytic[j])) / max(Swift.abs(numeric), 0.05 * scale)
                worst = max(worst, err)
                #expect(err < 0.05, "\(v.name.isEmpty ? "features" : v.name)[\(j)]: analytic \(analytic[j]) vs numeric \(numeric)")
            }
        }
        #expect(skipped * 5 <= total, "\(skipped) of \(total) points skipped as kinks")
        print("whole tiny ECAPA backward (training \(training)) vs Float differences: max rel err \(worst), \(skipped)/\(total) kinks skipped")
    }
}
