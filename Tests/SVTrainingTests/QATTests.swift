import Foundation
import Testing
import SVAutograd
import SVKernels
import SpeakerVerification
import _SVTestSupport
@testable import SVTraining

/// Quantisation-aware training: the fake-quantised training graph computes what the int8 core
/// computes; a QAT stage starts from calibrated steps, learns them, resumes exactly and exports an
/// int8 model.
@Suite(.serialized) struct QATTests {
    let fixture = TinyCorpusFixture.shared

    static let speechBrainC64 = ECAPAConfig(inputSize: 80, channels: [64, 64, 64, 64, 192],
                                            seChannels: 16, attentionChannels: 16, embeddingSize: 32)

    @Test func theFakeQuantizedGraphMatchesTheInt8Core() throws {
        let weights = try SafeTensorsFixture(path: Fixtures.path("ecapa/speechbrain_c64.safetensors"))
        let model = ECAPATrainingModel(config: Self.speechBrainC64, seed: 1)
        try model.load { weights.tensors[$0]?.floats }
        let provenance = TrainingProvenance(method: "test")
        let fp32 = try SpeakerModel(file: ModelExport.modelFile(model, features: .speechbrain, provenance: provenance, producer: "t"))
        let speech = ["speech_a_3s", "speech_b_8s"].map { Fixtures.path("speech/\($0).wav") }
        let calibration = try PostTrainingQuantization.calibrate(model: fp32, paths: speech)
        model.enableFakeQuantization(inputScales: calibration.inputScales)
        let int8 = try SpeakerModel(file: ModelExport.modelFile(model, features: .speechbrain, provenance: provenance, producer: "t", quantized: true))
        #expect(int8.encoder.isQuantized)

        let audio = try AudioFile.readMono(path: Fixtures.path("speech/speech_c_15s.wav")).samples
        let f = try fp32.frontEnd.extract(audio)
        let graph = model.forward(Graph(training: false, recording: false),
                                  features: Variable(Tensor(shape: [1, f.mels, f.frames], values: f.values))).values
        let core8 = try int8.encoder.embed(features: f.values, frames: f.frames, workspace: EncoderWorkspace())
        let core32 = try fp32.encoder.embed(features: f.values, frames: f.frames, workspace: EncoderWorkspace())
        let parity = cosineSimilarity(graph, core8), againstFloat = cosineSimilarity(graph, core32)
        print("QAT parity: graph vs int8 core \(parity), vs fp32 core \(againstFloat)")
        #expect(parity > 0.99999, "QAT graph vs int8 core: cosine \(parity)")
        // The agreement is the int8 arithmetic's, not fp32's: the fp32 core differs more.
        #expect(1 - againstFloat > 10 * (1 - parity), "vs fp32 \(againstFloat), vs int8 \(parity)")
    }

    @Test func aQATStageCalibratesLearnsResumesAndExportsInt8() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        _ = try Trainer(config: try fixture.config("simclr", ["epochs=1"]), runDirectory: dir.path("base"), resume: false).run()
        let stage = ["init_from=\(dir.path("base"))", "epochs=3", "qat.enabled=true", "qat.calibration_utterances=8", "lr=0.0005"]
        let full = try Trainer(config: try fixture.config("simclr", stage), runDirectory: dir.path("a"), resume: false)
        let calibrated = full.model.inputScales
        #expect(calibrated.count == full.model.config.int8Convolutions.count && calibrated.values.allSatisfy { $0 > 0 && $0 != 1 })
        let fullLog = try full.run()
        #expect(full.model.inputScales != calibrated, "the steps are learned")

        var first = try fixture.config("simclr", stage)
        first.epochs = 2
        _ = try Trainer(config: first, runDirectory: dir.path("b"), resume: false).run()
        let resumed = try Trainer(config: try fixture.config("simclr", stage), runDirectory: dir.path("b"), resume: true)
        let resumedLog = try resumed.run()
        #expect(fullLog.map(\.deterministicPart) == resumedLog.map(\.deterministicPart))
        #expect(full.model.inputScales == resumed.model.inputScales)

        let ckPath = try TrainingCheckpoint.lastPath(runDirectory: dir.path("a"))
        let ck = try TrainingCheckpoint.read(path: ckPath)
        let file = try ModelExport.modelFile(checkpoint: ck, checkpointPath: ckPath)
        let model = try SpeakerModel(file: file)
        #expect(model.encoder.isQuantized && model.quantization.calibration?.contains("qat") == true)
        #expect(model.metadata.training?.contains("simclr-qat") == true)
        for p in model.ecapaConfig!.int8Convolutions {
            let stored = try file.tensor(QuantizationScheme.inputScaleName(p)).floats().array[0]
            #expect(stored == full.model.inputScales[p]!, "exported step of \(p)")
        }
        // The int8 model embeds like the QAT graph it was trained as.
        let wav = fixture.path + "/wav/" + full.corpus.train[0].path
        let f = try model.frontEnd.extract(try AudioFile.readMono(path: wav).samples)
        let graph = full.model.forward(Graph(training: false, recording: false),
                                       features: Variable(Tensor(shape: [1, f.mels, f.frames], values: f.values))).values
        let core = try model.encoder.embed(features: f.values, frames: f.frames, workspace: EncoderWorkspace())
        #expect(cosineSimilarity(graph, core) > 0.9999)
    }

    @Test func aDistilledStudentFineTunesQuantizedWithItsTeacher() throws {
        // The small-student recipe: distillation in fp32, then a QAT stage that keeps distilling.
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let teacher = ["distill.teacher_model=\(ReferenceGuidedSSPSTests.referenceModel)"]
        _ = try Trainer(config: try fixture.config("distill", teacher + ["epochs=1"]), runDirectory: dir.path("base"), resume: false).run()
        let stage = try Trainer(config: try fixture.config("distill", teacher + [
            "init_from=\(dir.path("base"))", "epochs=2", "qat.enabled=true", "qat.calibration_utterances=8", "lr=0.0005"]),
                                runDirectory: dir.path("qat"), resume: false)
        #expect(stage.stepper.teacher?.fromCache == false && stage.stepper.distillHead != nil)
        let calibrated = stage.model.inputScales
        let log = try stage.run()
        #expect(log.count == 2 && log[1].loss.isFinite && log[1].loss <= 2)
        #expect(stage.model.inputScales != calibrated, "the steps are learned under the distillation loss")
        let ckPath = try TrainingCheckpoint.lastPath(runDirectory: dir.path("qat"))
        let model = try SpeakerModel(file: try ModelExport.modelFile(checkpoint: try TrainingCheckpoint.read(path: ckPath), checkpointPath: ckPath))
        #expect(model.encoder.isQuantized && model.metadata.training?.contains("distill-qat") == true)
    }

    @Test func qatIsRefusedForDINO() throws {
        #expect { try fixture.config("dino", ["qat.enabled=true"]).check() } throws: { "\($0)".contains("qat.enabled") }
    }
}
