import Foundation
import SpeakerVerification
import SVKernels
import Testing
import _SVTestSupport

/// `spkv import --from campplus`: a 3D-Speaker CAM++ state_dict becomes a model file whose whole
/// pipeline (libsndfile → 3d-speaker front end → CAM++) gives 3D-Speaker's own embeddings.
@Suite struct CAMPPlusImportTests {
    static let small = Fixtures.path("campplus/campplus_small.safetensors")
    static let clips = ["speech_a_3s", "speech_b_8s", "speech_c_15s"]

    @Test func theSmallNetworkImportsWithItsShapesAndEmbedsAudioLike3DSpeaker() throws {
        let summary = try ModelImport.run(from: .campplus, source: Self.small, output: nil)
        let config = try #require(summary.campplus?.config)
        #expect(config == CAMPPlusConfig(inputSize: 80, embeddingSize: 16, growthRate: 4, bottleneckScale: 2, initChannels: 8))
        #expect(summary.imported == nil && summary.ignored.isEmpty)
        let model = try SpeakerModel(file: summary.file)
        #expect(model.encoder.architecture == "campplus" && model.features == .threeDSpeaker && model.ecapaConfig == nil)
        try Self.expectEmbeddingsLike3DSpeaker(model, golden: "campplus/campplus_small_golden.safetensors")
    }

    /// Audio file → embedding through `model` against 3D-Speaker's pipeline on the same clips.
    static func expectEmbeddingsLike3DSpeaker(_ model: SpeakerModel, golden path: String,
                                              sourceLocation: SourceLocation = #_sourceLocation) throws {
        let golden = try SafeTensors.read(path: Fixtures.path(path))
        let embedder = Embedder(model: model)
        for clip in clips {
            let ours = try embedder.embed(path: Fixtures.path("speech/\(clip).wav"))
            let theirs = try golden.tensors["\(clip)/embedding"]!.floats().array
            let cosine = cosineSimilarity(ours, theirs)
            #expect(cosine >= 0.9999, "\(clip): cosine \(cosine) with 3D-Speaker's pipeline", sourceLocation: sourceLocation)
        }
    }

    /// The encoder is found under a prefix, other tensors are listed and left out, and the file
    /// written is the one read back.
    @Test func aNestedCheckpointImportsAndRoundTrips() throws {
        let weights = try SafeTensors.read(path: Self.small)
        var nested = weights.tensors.values.map { t in try! StoredTensor(name: "embedding_model." + t.name, shape: t.shape, floats: t.floats().array) }
        nested.append(try StoredTensor(name: "classifier.weight", shape: [3, 16], floats: [Float](repeating: 0.5, count: 48)))
        nested.append(try StoredTensor(name: "embedding_model.head.bn1.num_batches_tracked", shape: [1], floats: [7]))
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try SafeTensors(metadata: [:], tensors: nested).write(path: dir.path("nested.safetensors"))
        let summary = try ModelImport.run(from: .campplus, source: dir.path("nested.safetensors"), output: dir.path("m.safetensors"))
        #expect(summary.ignored == ["classifier.weight"])
        let direct = try ModelImport.run(from: .campplus, source: Self.small, output: nil)
        #expect(summary.file.tensors == direct.file.tensors)
        let loaded = try SpeakerModel.load(path: dir.path("m.safetensors"))
        #expect(loaded.checksum == summary.file.checksum)
    }

    @Test func wrongOrIncompleteCheckpointsAreClearErrors() throws {
        // An ECAPA-TDNN checkpoint is not a CAM++.
        let ecapa = Fixtures.path("ecapa/speechbrain_c64.safetensors")
        do { _ = try ModelImport.run(from: .campplus, source: ecapa, output: nil); Issue.record("no error") } catch {
            #expect(error.description.contains("no campplus CAM++ found") && error.description.contains("--from"), "\(error)")
        }
        // A missing tensor is named.
        let weights = try SafeTensors.read(path: Self.small)
        let missing = "xvector.block2.tdnnd3.cam_layer.linear2.bias"
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try SafeTensors(metadata: [:], tensors: weights.tensors.values.filter { $0.name != missing }).write(path: dir.path("cut.safetensors"))
        do { _ = try ModelImport.run(from: .campplus, source: dir.path("cut.safetensors"), output: nil); Issue.record("no error") } catch {
            #expect(error.description.contains("missing \(missing)") && !error.description.contains("ECAPA"), "\(error)")
        }
        // A shape that would overflow the inferred input size (a huge dimension beside a zero one) is an error.
        var crafted = weights.tensors.values.filter { $0.name != "xvector.tdnn.linear.weight" }
        crafted.append(try StoredTensor(name: "xvector.tdnn.linear.weight", shape: [0, 1 << 60, 5], floats: []))
        try SafeTensors(metadata: [:], tensors: crafted).write(path: dir.path("crafted.safetensors"))
        do { _ = try ModelImport.run(from: .campplus, source: dir.path("crafted.safetensors"), output: nil); Issue.record("no error") } catch {
            #expect(error.description.contains("do not fit together"), "\(error)")
        }
    }

    /// The shipped default (3D-Speaker's real CAM++, imported by tools/import_campplus.sh) embeds the
    /// test speech like 3D-Speaker's own pipeline with the same checkpoint (golden embeddings from
    /// tools/reference/make_campplus_fixtures.py --pt): audio file to embedding, cosine ≥ 0.9999.
    @Test func theShippedCAMPPlusEmbedsLike3DSpeaker() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../models/campplus-zh-en-16k-v1.safetensors").standardized.path
        let model = try SpeakerModel.load(path: path)
        #expect(model.embeddingSize == 192 && model.encoder.parameterCount == 6_930_720)
        try Self.expectEmbeddingsLike3DSpeaker(model, golden: "campplus/campplus_real_golden.safetensors")
    }

    /// The shipped MagNetO models (fp32 default, int8) are their base CAM++ plus a magnitude network: the same embedding
    /// directions, magnitudes read from its 1,024 pooled statistics, and the README's main job decided at
    /// the Bayes threshold with no --threshold (Joe accepted, the other character rejected).
    @Test(arguments: [("campplus-zh-en-16k-magneto-v1", "campplus-zh-en-16k-v1"),
                      ("campplus-zh-en-16k-int8-magneto-v1", "campplus-zh-en-16k-int8-v1")])
    func theShippedMagNetOModelsVerifyJoe(_ names: (String, String)) throws {
        let models = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../models").standardized.path
        let magneto = try SpeakerModel.load(path: "\(models)/\(names.0).safetensors")
        let plain = try SpeakerModel.load(path: "\(models)/\(names.1).safetensors")
        let network = try #require(magneto.magnitudeNetwork)
        #expect(network.inputSize == 1_024 && magneto.checksum != plain.checksum)
        let sample = "\(models)/samples/fotaq-joe"
        let a = try Embedder(model: magneto).embed(path: "\(sample)/joe_7400B3J1.flac")
        let b = try Embedder(model: plain).embed(path: "\(sample)/joe_7400B3J1.flac")
        #expect(Cosine.similarity(a, b) > 0.99999, "same encoder, only the length differs")
        let norm = a.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
        #expect(norm > 1 && norm < 20, "magnitude \(norm)")
        let enrollment = ["joe_13001EJ1", "joe_370007J1", "joe_JOE00942", "joe_JOE03021"].map { "\(sample)/\($0).flac" }
        let profile = try Enrollment.enroll(name: "joe", paths: enrollment, model: magneto)
        func verify(_ clip: String) throws -> VerificationResult {
            try Verification.verify(profile: profile, profilePath: "joe.json", audioPath: "\(sample)/\(clip).flac", model: magneto,
                                    threshold: nil, prior: 0.01)
        }
        let joe = try verify("joe_7400B3J1"), other = try verify("other_400008P3")
        #expect(joe.accepted && !other.accepted, "Joe \(joe.score), other \(other.score), threshold \(joe.threshold)")
        #expect(abs(joe.threshold - log(99.0)) < 1e-9 && joe.llr != nil)
    }

    /// One workspace serves two CAM++ models of different sizes and inputs of different lengths: its
    /// regions follow the encoder (laid out for the small network, they would be too small for the
    /// large one), and every result equals a fresh workspace's.
    @Test func aWorkspaceFollowsTheEncoderItServes() throws {
        let small = try SpeakerModel(file: ModelImport.run(from: .campplus, source: Self.small, output: nil).file)
        let large = try SpeakerModel.load(path: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../models/campplus-zh-en-16k-v1.safetensors").standardized.path)
        var rng = SystemRandomNumberGenerator()
        func features(_ frames: Int) -> [Float] { (0..<(80 * frames)).map { _ in Float.random(in: -1...1, using: &rng) } }
        let shared = EncoderWorkspace()
        // (small, 2400): 12 segments of 100 frames, more than the small network's 8 bottleneck channels.
        for (model, frames) in [(small, 500), (large, 400), (small, 120), (large, 90), (large, 700), (small, 2400), (small, 3)] {
            let x = features(frames)
            let reused = try model.encoder.embed(features: x, frames: frames, workspace: shared)
            let fresh = try model.encoder.embed(features: x, frames: frames, workspace: EncoderWorkspace())
            #expect(maxAbsDifference(reused, fresh) <= 1e-5 * max(1, fresh.map(abs).max() ?? 1), "\(model.embeddingSize)-d, \(frames) frames")
        }
        #expect(throws: ECAPAError.inputTooShort(frames: 2, minimum: 3)) {
            try small.encoder.embed(features: features(2), frames: 2, workspace: shared)
        }
    }

    /// Post-training int8 of a CAM++: the file keeps the fp32 shapes with I8 weights, loads as int8,
    /// stays close to fp32 on audio it was not calibrated on, and both int8 kernels give the same
    /// embedding.
    @Test func theSmallNetworkQuantisesToInt8() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        _ = try ModelImport.run(from: .campplus, source: Self.small, output: dir.path("m.safetensors"))
        let calibration = ["speech_a_3s", "speech_b_8s"].map { Fixtures.path("speech/\($0).wav") }
        let (fp32, int8, c) = try PostTrainingQuantization.quantize(modelPath: dir.path("m.safetensors"), calibrationPaths: calibration,
                                                                   method: .mse, percentile: 99.99, outputPath: dir.path("q.safetensors"))
        let prefixes = fp32.encoder.int8Convolutions
        guard case .campplus(let encoder) = fp32.encoder else { Issue.record("not a CAM++"); return }
        let layers = encoder.config.blockLayers
        // front module 11 (all but its first convolution: 4 blocks of 2, 2 shortcuts, the last), TDNN 1, two per CAM layer, one transit per block
        #expect(prefixes.count == 11 + 1 + 2 * layers.reduce(0, +) + layers.count && Set(c.inputScales.keys) == Set(prefixes))
        #expect(int8.encoder.isQuantized && !fp32.encoder.isQuantized && int8.quantization.kind == .int8Static)
        // Every int8 layer reads a ReLU output: inputs stored unsigned (scheme version 2).
        #expect(int8.quantization.version == 2 && int8.quantization.unsignedActivations)
        let file = try ModelFile.read(path: dir.path("q.safetensors")), original = try ModelFile.read(path: dir.path("m.safetensors"))
        for p in prefixes {
            let w = try #require(file.tensors["\(p).weight"])
            #expect(w.dtype == .i8 && w.shape == original.tensors["\(p).weight"]!.shape, "\(p)")
        }
        #expect(file.tensors["head.conv1.weight"]!.dtype == .f32, "the one-channel first convolution stays fp32")
        let heldOut = Fixtures.path("speech/speech_c_15s.wav")
        let cosine = try PostTrainingQuantization.agreement(fp32: fp32, int8: int8, paths: [heldOut])[0]
        #expect(cosine >= 0.99, "int8 vs fp32 cosine \(cosine) on held-out audio")
        let reloaded = try SpeakerModel.load(path: dir.path("q.safetensors"))
        let fast = try BLAS.withThreads(1) { try Embedder(model: reloaded).embed(path: heldOut) }
        let previous = Int8Kernel.use(.portable)
        defer { Int8Kernel.use(previous) }
        let portable = try BLAS.withThreads(1) { try Embedder(model: reloaded).embed(path: heldOut) }
        #expect(fast == portable, "\(previous) and portable C give the same int8 embedding")
        do {
            _ = try PostTrainingQuantization.quantize(modelPath: dir.path("q.safetensors"), calibrationPaths: calibration,
                                                      method: .max, percentile: 99.99, outputPath: dir.path("qq.safetensors"))
            Issue.record("an int8 model was quantised again")
        } catch {
            #expect("\(error)".contains("already quantised"), "\(error)")
        }
    }

    /// MagNetO reads CAM++'s pooled statistics (mean and standard deviation of the last BN-ReLU output):
    /// the embedder returns them with the unscaled embedding, and the standard deviations are never negative.
    @Test func magnetoInputsOfCAMPPlusArePooledStatistics() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        _ = try ModelImport.run(from: .campplus, source: Self.small, output: dir.path("m.safetensors"))
        let model = try SpeakerModel.load(path: dir.path("m.safetensors"))
        let samples: [Float] = (0..<16_000).map { i in
            let t = Double(i)
            return Float(0.3 * sin(t * 0.05) + 0.2 * sin(t * 0.013))
        }
        let (embedding, pooled) = try Embedder(model: model).embeddingAndPooledStatistics(samples: samples)
        #expect(embedding == (try Embedder(model: model).embed(samples: samples)))
        #expect(pooled.count == model.encoder.pooledSize && pooled.allSatisfy { $0.isFinite })
        let half = pooled.count / 2
        #expect(pooled[half...].allSatisfy { $0 >= 0 } && pooled[half...].contains { $0 > 0 }, "standard deviations")
        #expect(pooled[..<half].allSatisfy { $0 >= 0 }, "means of ReLU outputs")
    }
}
