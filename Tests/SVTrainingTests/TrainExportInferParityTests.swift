import Foundation
import Testing
import SVAutograd
import SVKernels
import SpeakerVerification
import _SVTestSupport
@testable import SVTraining

/// One architecture, two engines: train a small ECAPA-TDNN a few steps with the autograd engine,
/// export it, load the file in the inference core, and compare embeddings on real speech.
@Suite struct TrainExportInferParityTests {
    static let minimumCosine = 0.99999

    @Test func trainedModelGivesTheSameEmbeddingsInBothEngines() throws {
        let config = ECAPAConfig(inputSize: 80, channels: [32, 32, 32, 32, 96], seChannels: 16,
                                         attentionChannels: 16, embeddingSize: 16)
        let model = ECAPATrainingModel(config: config, seed: 11)
        let optimizer = Adam(parameters: model.parameters, learningRate: 1e-3)
        // A few SimCLR steps on random "features" move weights and batch-norm running statistics
        // away from their initial values.
        var rng = SplitMix64(seed: 5)
        for _ in 0..<3 {
            let views = (0..<2).map { _ in
                Variable(Tensor(shape: [4, 80, 60], values: (0..<(4 * 80 * 60)).map { _ in rng.nextFloat() * 2 - 1 }))
            }
            let g = Graph(training: true)
            let loss = g.ntXent(model.forward(g, features: views[0]), model.forward(g, features: views[1]), temperature: 0.1)
            optimizer.zeroGrad()
            g.backward(from: loss)
            optimizer.step()
        }

        let file = try ModelExport.modelFile(model, features: .speechbrain,
                                             provenance: TrainingProvenance(method: "simclr", details: ["steps": "3"]),
                                             producer: "spkv-train test")
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try file.write(path: dir.path("m.safetensors"))
        let inference = try SpeakerModel.load(path: dir.path("m.safetensors"))
        #expect(inference.metadata.training?.contains("\"method\":\"simclr\"") == true)

        for clip in ["speech_a_3s", "speech_b_8s"] {
            let audio = try AudioFile.readMono(path: Fixtures.path("speech/\(clip).wav"))
            let features = try inference.frontEnd.extract(audio.samples)       // (mels, frames)
            let ours = try inference.encoder.embed(features: features.values, frames: features.frames,
                                                   workspace: EncoderWorkspace())
            let g = Graph(training: false, recording: false)
            let theirs = model.forward(g, features: Variable(Tensor(shape: [1, features.mels, features.frames],
                                                                    values: features.values))).values
            let cosine = cosineSimilarity(ours, theirs)
            #expect(cosine >= Self.minimumCosine, "\(clip): cosine \(cosine); \(ours.prefix(4)) vs \(theirs.prefix(4))")
        }
    }
}
