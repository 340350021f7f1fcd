import Foundation
import Testing
import _SVTestSupport
import SVAutograd
@testable import SpeakerVerification
@testable import SVTraining

/// Distillation (`method: distill`, or `distill.*` added to SimCLR): the student learns the frozen teacher's
/// embedding of each clean utterance from an augmented crop.
@Suite(.serialized) struct DistillationTests {
    let fixture = TinyCorpusFixture.shared
    /// A real model file as teacher (32 values, random weights: the targets are what they are).
    static let teacher = ReferenceGuidedSSPSTests.referenceModel

    @Test func distillationAloneLowersItsLossAndKeepsItsHeadInTheCheckpoint() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let config = try fixture.config("distill", ["epochs=4", "lr=0.005", "distill.teacher_model=\(Self.teacher)"])
        #expect(config.viewSamples.count == 1 && config.methodName == "distill")
        let run = try Trainer(config: config, runDirectory: dir.path("run"), resume: false)
        let head = try #require(run.stepper.distillHead, "teacher 32 values, student 8: a head maps them")
        #expect(head.shape == [32, 8] && run.stepper.teacher?.dimension == 32)
        let log = try run.run()
        #expect(log.count == 4 && log.allSatisfy { $0.loss.isFinite && $0.loss >= 0 && $0.loss <= 2 })
        #expect(log[3].loss < log[0].loss, "distillation loss per epoch: \(log.map(\.loss))")
        let ck = try TrainingCheckpoint.read(path: try TrainingCheckpoint.lastPath(runDirectory: dir.path("run")))
        #expect(ck.tensors["distill.head.weight"] == head.value.values && ck.tensors["adam.m.distill.head.weight"] != nil)
        #expect(FileManager.default.fileExists(atPath: dir.path("run/distill-teacher.safetensors")))
        // Resuming restores the head and reads the teacher's cache.
        var more = config
        more.epochs = 5
        let resumed = try Trainer(config: more, runDirectory: dir.path("run"), resume: true)
        #expect(resumed.stepper.distillHead?.value.values == head.value.values && resumed.stepper.teacher?.fromCache == true)
        #expect(try resumed.run().count == 5)
    }

    @Test func simclrWithDistillationAddsTheWeightedTerm() throws {
        let corpus = try TrainingCorpus(path: fixture.path)
        let plain = try fixture.config("simclr")
        let distilling = try fixture.config("simclr", ["distill.teacher_model=\(Self.teacher)", "distill.weight=0.5"])
        #expect(distilling.methodName == "simclr-distill")
        let table = try FrozenEmbeddingTable.load(modelPath: Self.teacher, corpus: corpus, runDirectory: try TemporaryDirectory().path(""), threads: 1)
        let planner = BatchPlanner(config: plain, corpus: corpus, augmenter: nil)
        let extractor = try FeatureExtractor(config: plain.featureConfig)
        let batch = try planner.batch(epoch: 0, step: 0, order: planner.order(epoch: 0), extractor: extractor)
        // Same seed, same initial weights: the only difference in the first loss is 0.5 × mean(1 − cos) ∈ (0, 1].
        let a = TrainingStep(config: plain, speakerCount: corpus.speakers.count).step(batch)
        let withDistillation = TrainingStep(config: distilling, speakerCount: corpus.speakers.count, teacher: table)
        let b = withDistillation.step(batch)
        #expect(b > a && b - a <= 1.0001, "simclr \(a), simclr + distillation \(b)")
        // The term equals what the loss function gives for the first view's embeddings (recomputed before the update).
        let fresh = TrainingStep(config: distilling, speakerCount: corpus.speakers.count, teacher: table)
        let g = Graph(training: true)
        let z1 = fresh.model.forward(g, features: Variable(batch.views[0]))
        let term = fresh.distillationLoss(g, z1, batch: batch).values[0]
        #expect(abs((b - a) - term) < 1e-3 * max(1, term), "difference \(b - a), term \(term)")
    }

    @Test func equalSizesNeedNoHeadAndErrorsNameTheKey() throws {
        let corpus = try TrainingCorpus(path: fixture.path)
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let table = try FrozenEmbeddingTable.load(modelPath: Self.teacher, corpus: corpus, runDirectory: dir.path(""), threads: 1,
                                                  role: .distillTeacher)
        let wide = try fixture.config("distill", ["distill.teacher_model=\(Self.teacher)", "model.embedding_size=32"])
        #expect(TrainingStep(config: wide, speakerCount: corpus.speakers.count, teacher: table).distillHead == nil)
        #expect { try fixture.config("distill") } throws: { "\($0)".contains("distill.teacher_model") }
        #expect { try fixture.config("dino", ["distill.teacher_model=\(Self.teacher)"]) } throws: { "\($0)".contains("distill.teacher_model") }
        #expect { try fixture.config("simclr", ["distill.teacher_model=\(Self.teacher)", "distill.weight=0"]) } throws: {
            "\($0)".contains("distill.weight")
        }
        #expect { try fixture.config("simclr", ["distill.teacher_model=\(Self.teacher)", "distill.loss=kl"]) } throws: { "\($0)".contains("distill") }
        #expect { try Trainer(config: try fixture.config("distill", ["distill.teacher_model=\(dir.path("none.safetensors"))"]),
                              runDirectory: dir.path("x"), resume: false) } throws: { "\($0)".contains("none.safetensors") }
    }

    @Test func aSimCLRBaseMayContinueWithDistillationAndReferenceGuidedSSPS() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let base = try Trainer(config: try fixture.config("simclr"), runDirectory: dir.path("base"), resume: false)
        _ = try base.run()
        let stage = try Trainer(config: try fixture.config("simclr", [
            "epochs=2", "init_from=\(dir.path("base"))", "distill.teacher_model=\(Self.teacher)", "ssps.enabled=true",
            "ssps.clusters=4", "ssps.positive_queue=8", "ssps.reference_model=\(Self.teacher)"]), runDirectory: dir.path("stage"), resume: false)
        #expect(stage.model.parameters.map(\.values) == base.model.parameters.map(\.values), "the stage starts from the base's weights")
        let log = try stage.run()
        #expect(log.count == 2 && log[1].ssps != nil && log[1].loss.isFinite)
        #expect(stage.stepper.config.methodName == "simclr-ssps-distill")
        // Distillation alone may continue the same SimCLR base (only the loss changes); a supervised stage may not.
        let distill = try Trainer(config: try fixture.config("distill", ["epochs=2", "init_from=\(dir.path("base"))",
            "distill.teacher_model=\(Self.teacher)"]), runDirectory: dir.path("distill"), resume: false)
        #expect(distill.model.parameters.map(\.values) == base.model.parameters.map(\.values))
        #expect(distill.stepper.config.methodName == "distill")
        let distillLog = try distill.run()
        #expect(distillLog.count == 2 && distillLog[1].loss.isFinite)
        #expect(distill.model.parameters.map(\.values) != base.model.parameters.map(\.values), "the stage trained")
        // A stage may train on another corpus (here: the fixture without its last two training clips).
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir.path("other"), withIntermediateDirectories: true)
        let meta = try String(contentsOfFile: "\(fixture.path)/meta.tsv", encoding: .utf8).split(separator: "\n")
        let lastTrain = meta.lastIndex { $0.contains("\ttrain\t") }!
        let kept = meta.enumerated().filter { $0.offset != lastTrain && $0.offset != lastTrain - 1 }.map(\.element)
        try (kept.joined(separator: "\n") + "\n").write(toFile: dir.path("other/meta.tsv"), atomically: true, encoding: .utf8)
        try fm.createSymbolicLink(atPath: dir.path("other/wav"), withDestinationPath: "\(fixture.path)/wav")
        let elsewhere = try Trainer(config: try fixture.config("distill", ["epochs=2", "init_from=\(dir.path("base"))",
            "distill.teacher_model=\(Self.teacher)", "corpus=\(dir.path("other"))"]), runDirectory: dir.path("elsewhere"), resume: false)
        #expect(elsewhere.corpus.train.count == base.corpus.train.count - 2 && elsewhere.corpus.id != base.corpus.id)
        let teacher = try #require(elsewhere.stepper.teacher)
        #expect(teacher.rows.count == elsewhere.corpus.train.count * teacher.dimension)
        #expect(try elsewhere.run().count == 2)
        // Its model file names the base's corpus too: what the weights heard before this stage.
        let file = try ModelExport.modelFile(checkpoint: try TrainingCheckpoint.read(path: TrainingCheckpoint.resolve(dir.path("elsewhere"))),
                                             checkpointPath: dir.path("elsewhere"))
        let training = try #require(file.metadata.training)
        let details = try #require(try JSONSerialization.jsonObject(with: Data(training.utf8)) as? [String: Any])
        let earlier = try #require(details["earlier_corpora"] as? String)
        let entry = (try JSONSerialization.jsonObject(with: Data(earlier.utf8)) as? [String: [String: Any]])?[base.corpus.id]
        #expect(entry?["corpus"] as? String == base.config.corpus && entry?["sources"] != nil, "\(earlier)")
        // An SSPS stage on the other corpus fills its queues anew (the base's hold the base corpus's indices).
        let sspsBase = try Trainer(config: try fixture.config("simclr", ["ssps.enabled=true", "ssps.clusters=4", "ssps.positive_queue=8"]),
                                   runDirectory: dir.path("ssps-base"), resume: false)
        _ = try sspsBase.run()
        let sspsStage = try Trainer(config: try fixture.config("simclr", ["epochs=2", "init_from=\(dir.path("ssps-base"))",
            "ssps.enabled=true", "ssps.clusters=4", "ssps.positive_queue=8", "corpus=\(dir.path("other"))"]),
            runDirectory: dir.path("ssps-elsewhere"), resume: false)
        let sspsLog = try sspsStage.run()
        #expect(sspsLog.count == 2 && sspsLog[1].ssps != nil && sspsLog[1].loss.isFinite)
        // A supervised stage may not: its classifier's rows are the base corpus's speakers.
        _ = try Trainer(config: try fixture.config("supervised"), runDirectory: dir.path("sup-base"), resume: false).run()
        #expect { try Trainer(config: try fixture.config("supervised", ["epochs=2", "init_from=\(dir.path("sup-base"))",
                                                                       "corpus=\(dir.path("other"))"]),
                              runDirectory: dir.path("sup-elsewhere"), resume: false) } throws: { "\($0)".contains("needs its base's corpus") }
        #expect { try Trainer(config: try fixture.config("supervised", ["epochs=2", "init_from=\(dir.path("base"))"]),
                              runDirectory: dir.path("supervised"), resume: false) } throws: { "\($0)".contains("init_from") }
    }
}
