import Foundation
import Testing
import SVKernels
import _SVTestSupport
@testable import SpeakerVerification

/// MagNetO at inference: the magnitude network in the model file, `a·x̂` embeddings, LLR = inner product + offset.
@Suite struct MagNetOScoringTests {
    static let speech = VerificationBackEndTests.speech

    static func baseFile() throws -> ModelFile {
        try ModelImport.run(from: .speechbrain, source: Fixtures.path("ecapa/speechbrain_c64.safetensors"), output: nil).file
    }

    /// A two-layer network on the model's pooled statistics with seeded weights (magnitudes of order 1).
    static func network(inputs: Int, hidden: Int = 8, seed: UInt64 = 7) throws -> MagnitudeNetwork {
        var rng = SplitMix64(seed: seed)
        func values(_ n: Int, _ scale: Float) -> [Float] { (0..<n).map { _ in (rng.nextFloat() * 2 - 1) * scale } }
        return try MagnitudeNetwork(layers: [
            .init(inputs: inputs, outputs: hidden, weight: values(inputs * hidden, 0.2), bias: values(hidden, 0.1).map { abs($0) + 0.5 }),
            .init(inputs: hidden, outputs: 1, weight: values(hidden, 0.3).map(abs), bias: [0.7]),
        ])
    }

    static func magnetoModel(_ network: MagnitudeNetwork, offset: Double) throws -> SpeakerModel {
        var file = try baseFile()
        for t in try network.tensors() { file.tensors[t.name] = t }
        file.metadata.scoring = ScoringConfig.magneto(offset: offset, prior: 0.01).jsonString()
        return try SpeakerModel(file: file)
    }

    /// Naive Double forward of the network: the reference twin of `MagnitudeNetwork.magnitude`.
    static func naiveMagnitude(_ net: MagnitudeNetwork, _ input: [Float]) -> Double {
        var x = input.map(Double.init)
        for l in net.layers {
            x = (0..<l.outputs).map { o in
                max(0, Double(l.bias[o]) + (0..<l.inputs).reduce(0.0) { $0 + Double(l.weight[o * l.inputs + $1]) * x[$1] })
            }
        }
        return x[0]
    }

    @Test func pooledStatisticsAreWhatTheEmbeddingLayerReads() throws {
        let file = try Self.baseFile()
        let model = try SpeakerModel(file: file)
        let clip = try AudioFile.readMono(path: Self.speech[1], sampleRate: 16_000)
        let (embedding, pooled) = try Embedder(model: model).embeddingAndPooledStatistics(samples: clip.samples)
        #expect(pooled.count == model.encoder.pooledSize && pooled.count == 2 * model.ecapaConfig!.mfaChannels)
        // fc(pooled) with the file's unfolded fc weights is the embedding: the pooled BN was applied, nothing else.
        let name = "fc.conv"   // SpeechBrain's embedding layer
        let w = try file.tensor("\(name).weight").floats().array, b = try file.tensor("\(name).bias").floats().array
        let p = pooled.count
        for r in 0..<embedding.count {
            let y = Double(b[r]) + (0..<p).reduce(0.0) { $0 + Double(w[r * p + $1]) * Double(pooled[$1]) }
            #expect(abs(y - Double(embedding[r])) < 1e-4 * max(1, abs(y)))
        }
    }

    @Test func magnitudeMatchesItsNaiveTwinAndRoundTripsThroughTheModelFile() throws {
        let base = try SpeakerModel(file: try Self.baseFile())
        let net = try Self.network(inputs: base.encoder.pooledSize)
        let model = try Self.magnetoModel(net, offset: -3)
        #expect(model.magnitudeNetwork == net && model.checksum != base.checksum)
        let clip = try AudioFile.readMono(path: Self.speech[0], sampleRate: 16_000)
        let (raw, pooled) = try Embedder(model: base).embeddingAndPooledStatistics(samples: clip.samples)
        let a = Self.naiveMagnitude(net, pooled)
        #expect(a > 0.1 && abs(Double(net.magnitude(pooled)) - a) < 1e-5 * a)
        // The MagNetO model's embedding is a·x̂.
        let embedder = Embedder(model: model)
        let scaled = try embedder.embed(samples: clip.samples)
        #expect(abs(Double(embedder.lastMagnitude!) - a) < 1e-5 * a)
        #expect(maxAbsDifference(scaled, Cosine.normalized(raw).map { $0 * Float(a) }) < 1e-5)
    }

    @Test func scoresAreMagnitudeProductTimesCosinePlusOffset() throws {
        let base = try SpeakerModel(file: try Self.baseFile())
        let net = try Self.network(inputs: base.encoder.pooledSize)
        let model = try Self.magnetoModel(net, offset: -3)
        let embedder = Embedder(model: base)
        var magnitudes: [Double] = [], units: [[Float]] = []
        for path in Self.speech {
            let clip = try AudioFile.readMono(path: path, sampleRate: 16_000)
            let (raw, pooled) = try embedder.embeddingAndPooledStatistics(samples: clip.samples)
            magnitudes.append(Self.naiveMagnitude(net, pooled)); units.append(raw)
        }
        let trials = try TrialList.parse("1 speech_a_3s.wav speech_b_8s.wav\n0 speech_a_3s.wav speech_c_15s.wav\n", source: "t")
        var scorer = TrialScoring(model: model)
        scorer.audioRoot = Fixtures.path("speech")
        let list = try scorer.score(trials)
        #expect(list.header["kind"] == "llr" && list.header["backend"] == "magneto" && list.header["prior"] == "0.01")
        for (t, (i, j)) in zip(list.trials, [(0, 1), (0, 2)]) {
            let expected = magnitudes[i] * magnitudes[j] * Double(Cosine.similarity(units[i], units[j])) - 3
            #expect(abs(t.score - expected) < 1e-4)
        }
        // Verification of a one-recording profile gives the same LLR; the Bayes threshold applies.
        let profile = try Enrollment.enroll(name: "a", paths: [Self.speech[0]], model: model, minimumSpeechSeconds: 1)
        let r = try Verification.verify(profile: profile, profilePath: "p", audioPath: Self.speech[1], model: model, threshold: nil, prior: 0.01)
        #expect(abs(r.llr! - list.trials[0].score) < 1e-4 && abs(r.threshold - log(99)) < 1e-12)
        // AS-norm is refused for MagNetO scores.
        scorer.cohortPaths = [Self.speech[2]]
        scorer.cohortTopN = 2
        #expect { try scorer.score(trials) } throws: { "\($0)".contains("MagNetO") }
    }

    @Test func aConstantNetworkReproducesTheGlobalLinearCalibrator() throws {
        // Last layer zero, bias √scale: every magnitude is √scale, so a_i·a_j·cos + b = scale·cos + b (the
        // paper's initialisation; training starts from the calibrator's scores).
        let base = try SpeakerModel(file: try Self.baseFile())
        var net = try Self.network(inputs: base.encoder.pooledSize)
        let hidden = net.layers[0].outputs
        net = try MagnitudeNetwork(layers: [net.layers[0], .init(inputs: hidden, outputs: 1, weight: .init(repeating: 0, count: hidden), bias: [Float(sqrt(12.0))])])
        let magneto = try Self.magnetoModel(net, offset: -4)
        let linear = try VerificationBackEndTests.calibratedModel(scale: 12, offset: -4)
        let trials = try TrialList.parse("speech_a_3s.wav speech_b_8s.wav\nspeech_b_8s.wav speech_c_15s.wav\n", source: "t")
        var a = TrialScoring(model: magneto), b = TrialScoring(model: linear)
        a.audioRoot = Fixtures.path("speech"); b.audioRoot = a.audioRoot
        for (x, y) in zip(try a.score(trials).trials, try b.score(trials).trials) { #expect(abs(x.score - y.score) < 1e-4) }
    }

    @Test func inconsistentFilesAreRefusedWithAReason() throws {
        let base = try SpeakerModel(file: try Self.baseFile())
        let net = try Self.network(inputs: base.encoder.pooledSize)
        // Network without the MagNetO back end, and the back end without a network.
        var file = try Self.baseFile()
        for t in try net.tensors() { file.tensors[t.name] = t }
        #expect { try SpeakerModel(file: file) } throws: { "\($0)".contains("magnitude network") }
        var noNet = try Self.baseFile()
        noNet.metadata.scoring = ScoringConfig.magneto(offset: 0, prior: 0.01).jsonString()
        #expect { try SpeakerModel(file: noNet) } throws: { "\($0)".contains("no magnitude network") }
        // A network for another pooled width, a missing bias.
        var wrong = try Self.baseFile()
        for t in try Self.network(inputs: 10).tensors() { wrong.tensors[t.name] = t }
        #expect { try SpeakerModel(file: wrong) } throws: { "\($0)".contains("pooled statistics") }
        var gap = file
        gap.tensors[MagnitudeNetwork.biasName(1)] = nil
        #expect { try SpeakerModel(file: gap) } throws: { "\($0)".contains("layer 1") }
        #expect(throws: MagnitudeNetworkError.self) { try MagnitudeNetwork(layers: [.init(inputs: 2, outputs: 2, weight: [1, 0, 0, 1], bias: [0, 0])]) }
    }
}
