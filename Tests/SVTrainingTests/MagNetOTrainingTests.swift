import Foundation
import Testing
import SVAutograd
import SVKernels
import SpeakerVerification
import _SVTestSupport
@testable import SVTraining

/// MagNetO stage 3: the start reproduces the global linear calibrator, training lowers the loss, the
/// exported network scores like the training graph, and the inputs cache is keyed by model and corpus.
@Suite struct MagNetOTrainingTests {
    /// 8 labels × 10 rows. Each row is its label's direction plus noise of a per-row strength, and the
    /// pooled statistics carry that strength (plus distractors): a magnitude network can learn to trust
    /// clean rows more, which a global scale cannot.
    static func synthetic(seed: UInt64 = 3) -> (MagNetOInputs, [Int]) {
        var rng = SplitMix64(seed: seed)
        func gauss() -> Float { Float((-2 * log(Double(max(rng.nextFloat(), 1e-7)))).squareRoot() * cos(2 * .pi * Double(rng.nextFloat()))) }
        let d = 12, p = 6, labels = (0..<80).map { $0 / 10 }
        let centers = (0..<8).map { _ in (0..<d).map { _ in gauss() } }
        var e: [Float] = [], pooled: [Float] = []
        for l in labels {
            let noise = 0.3 + 2.5 * rng.nextFloat()
            e += centers[l].map { $0 + noise * gauss() }
            pooled += [noise, noise * noise, gauss(), gauss(), 1, rng.nextFloat()]
        }
        return (MagNetOInputs(count: labels.count, embeddingSize: d, pooledSize: p, embeddings: e, pooled: pooled), labels)
    }

    static func config(steps: Int = 150) -> MagNetOConfig {
        var c = MagNetOConfig()
        c.hidden = [16, 16]; c.speakersPerBatch = 6; c.perSpeaker = 5; c.steps = steps; c.decaySteps = 100
        c.learningRate = 0.05; c.prior = 0.05
        return c
    }

    @Test func theFirstStepReproducesTheGlobalCalibrator() throws {
        let (inputs, labels) = Self.synthetic()
        let trainer = try MagNetOTrainer(config: Self.config(), inputs: inputs, labels: labels)
        let c = trainer.calibrator
        #expect(c.scale > 0)
        let net = try trainer.network()
        #expect(net.layers.last!.weight.allSatisfy { $0 == 0 } && Double(net.layers.last!.bias[0]) == Double(Float(c.scale.squareRoot())))
        let unit = inputs.unitEmbeddings, d = inputs.embeddingSize, p = inputs.pooledSize
        for (i, j) in [(0, 1), (0, 35), (17, 63), (42, 79)] {
            let ai = Double(net.magnitude(Array(inputs.pooled[(i * p)..<((i + 1) * p)])))
            let aj = Double(net.magnitude(Array(inputs.pooled[(j * p)..<((j + 1) * p)])))
            let cos = (0..<d).reduce(0.0) { $0 + Double(unit[i * d + $1]) * Double(unit[j * d + $1]) }
            let magneto = ScoringConfig.magneto(offset: trainer.offsetValue, prior: 0.05).score(cosine: cos, magnitudes: (ai, aj))
            #expect(abs(magneto - c.llr(cos)) < 1e-5 * max(1, abs(c.llr(cos))))
        }
    }

    @Test func trainingLowersTheLossOnFreshBatchesAndVariesTheMagnitudes() throws {
        let (inputs, labels) = Self.synthetic()
        let trainer = try MagNetOTrainer(config: Self.config(), inputs: inputs, labels: labels)
        let probe = (0..<10).map { 10_000 + $0 }
        let before = probe.map(trainer.loss(step:)).reduce(0, +)
        var rows: [MagNetOTrainer.LogRow] = []
        trainer.run(logEvery: 50) { rows.append($0) }
        let after = probe.map(trainer.loss(step:)).reduce(0, +)
        #expect(rows.map(\.step) == [50, 100, 150] && rows.allSatisfy { $0.loss.isFinite })
        #expect(after < 0.9 * before, "loss \(before) → \(after)")
        let net = try trainer.network(), p = inputs.pooledSize
        let magnitudes = (0..<inputs.count).map { net.magnitude(Array(inputs.pooled[($0 * p)..<(($0 + 1) * p)])) }
        #expect(magnitudes.allSatisfy { $0 >= 0 } && (magnitudes.max()! - magnitudes.min()!) > 0.1)
        // Noisier rows get smaller magnitudes here (their cosines say less): the rank correlation is negative.
        let noise = (0..<inputs.count).map { inputs.pooled[$0 * p] }
        let pairs = zip(noise, magnitudes).map { ($0, $1) }
        var concordant = 0, discordant = 0
        for x in 0..<pairs.count { for y in (x + 1)..<pairs.count {
            let s = (pairs[x].0 - pairs[y].0) * (pairs[x].1 - pairs[y].1)
            if s > 0 { concordant += 1 } else if s < 0 { discordant += 1 }
        } }
        #expect(discordant > concordant)
    }

    @Test func batchesHaveSpeakersTimesUtterancesAndDependOnlyOnTheStep() throws {
        let (inputs, labels) = Self.synthetic()
        let trainer = try MagNetOTrainer(config: Self.config(), inputs: inputs, labels: labels)
        let b = trainer.batch(step: 7)
        #expect(b == trainer.batch(step: 7) && b != trainer.batch(step: 8))
        #expect(b.count == 30 && Set(b).count == 30 && Set(b.map { labels[$0] }).count == 6)
        #expect(throws: TrainingError.self) { try MagNetOTrainer(config: Self.config(), inputs: inputs, labels: (0..<80).map { $0 }) }
        var bad = Self.config()
        bad.perSpeaker = 1
        #expect { try MagNetOTrainer(config: bad, inputs: inputs, labels: labels) } throws: { "\($0)".contains("per-speaker") }
    }

    @Test func inputsCacheIsKeyedByModelAndCorpus() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (inputs, _) = Self.synthetic()
        let path = dir.path("inputs.safetensors")
        try inputs.write(path: path, modelChecksum: "aaaa0000", corpusID: "c1")
        let back = try #require(try MagNetOInputs.readCache(path: path, modelChecksum: "aaaa0000", corpusID: "c1", count: 80))
        #expect(back.embeddings == inputs.embeddings && back.pooled == inputs.pooled)
        #expect(try MagNetOInputs.readCache(path: path, modelChecksum: "bbbb0000", corpusID: "c1", count: 80) == nil)
        #expect(try MagNetOInputs.readCache(path: path, modelChecksum: "aaaa0000", corpusID: "c2", count: 80) == nil)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count - 9).write(to: URL(fileURLWithPath: path))
        #expect { try MagNetOInputs.readCache(path: path, modelChecksum: "aaaa0000", corpusID: "c1", count: 80) } throws: { "\($0)".contains("damaged") }
    }

    @Test func fullLengthRefinementLowersItsLossAndTheExportedModelEmbedsLikeIt() throws {
        let corpus = try TrainingCorpus(path: TinyCorpusFixture.shared.path)
        var file = try ModelImport.run(from: .speechbrain, source: Fixtures.path("ecapa/speechbrain_c64.safetensors"), output: nil).file
        let model = try SpeakerModel(file: file)
        let inputs = try MagNetOInputs.extract(paths: corpus.train.map { corpus.wavPath($0.path) }, model: model, threads: 2)
        #expect(inputs.count == corpus.train.count && inputs.pooledSize == model.encoder.pooledSize)
        // The cached embeddings are the model's own.
        let first = try Embedder(model: model).embed(path: corpus.wavPath(corpus.train[0].path))
        // Extraction runs OpenBLAS on one thread, this call on the process's count: relative to the scale.
        let scale = first.map(abs).max() ?? 1
        #expect(maxAbsDifference(first, inputs.embeddings.prefix(model.embeddingSize)) < 1e-5 * max(1, scale))

        let prefix = model.ecapaConfig!.embeddingLayerName
        var settings = FullLengthRefinement.Settings()
        settings.steps = 80; settings.batchSize = 16; settings.learningRate = 0.05; settings.decaySteps = 40
        let r = try FullLengthRefinement(inputs: inputs, labels: corpus.labels, weight: try file.tensor("\(prefix).weight").floats().array,
                                         bias: try file.tensor("\(prefix).bias").floats().array, settings: settings)
        #expect(r.lastLoss < r.firstLoss, "AM-softmax loss \(r.firstLoss) → \(r.lastLoss)")
        try r.write(into: &file, config: model.ecapaConfig!)
        let refined = try SpeakerModel(file: file)
        let refinedInputs = r.apply(to: inputs)
        for k in [0, corpus.train.count - 1] {
            let e = try Embedder(model: refined).embed(path: corpus.wavPath(corpus.train[k].path))
            let d = refined.embeddingSize
            let expected = Array(refinedInputs.embeddings[(k * d)..<((k + 1) * d)])
            #expect(Cosine.similarity(e, expected) > 0.99999 && maxAbsDifference(e, expected) < 1e-3)
            #expect(maxAbsDifference(e, inputs.embeddings[(k * d)..<((k + 1) * d)]) > 1e-3, "the layer changed")
        }
    }
}
