import Foundation
import Testing
import SVAutograd
import SVKernels
import _SVTestSupport
@testable import SVTraining

/// DINO-SSPS (reference §5): Q′ holds [T₁; T₂], both teacher rows substituted from one slot,
/// ŷ from the teacher encoder, stages and exact resume.
@Suite(.serialized) struct DINOSSPSTests {
    let fixture = TinyCorpusFixture.shared
    let dinoSets = ["dino.hidden=32", "dino.bottleneck=16", "dino.prototypes=64", "dino_global_seconds=0.6",
                    "dino_local_seconds=0.3", "lr=0.05", "weight_decay=5e-5", "dino.warmup_epochs=1", "dino.schedule_epochs=3"]

    func sspsConfig(_ base: String, _ extra: [String] = []) throws -> TrainingConfig {
        try fixture.config("dino", dinoSets + ["epochs=3", "init_from=\(base)", "ssps.enabled=true", "ssps.clusters=4",
                                                 "ssps.positive_queue=8", "ssps.reference_seconds=1"] + extra)
    }

    @Test func bothTeacherViewsAreSubstitutedFromOneSlot() {
        // N = 2, K = 3: T rows g1(0), g1(1), g2(0), g2(1).
        let t = Tensor(shape: [4, 3], values: (0..<12).map(Float.init))
        let rows = DINOState.positiveRows(t, prototypes: 3)
        #expect(rows == [0, 1, 2, 6, 7, 8, 3, 4, 5, 9, 10, 11])   // [T₁ row i; T₂ row i] per anchor
        let memory = SSPSMemory(referenceCapacity: 2, positiveCapacity: 2, dimension: 1, positiveDimension: 6)
        memory.write(step: 0, indices: [5, 6], references: [1, 1], positives: (0..<12).map { Float($0) + 100 })
        #expect(memory.positiveEmbeddings.count == 12 && memory.bytes == (2 * 2 + 2 * 7) * 4)
        let out = DINOState.substitute(t, picks: [nil, 1], memory: memory)
        // Anchor 1 gets slot 1: T₁ ← 106…108, T₂ ← 109…111; anchor 0 keeps its rows.
        #expect(out.values == [0, 1, 2, 106, 107, 108, 6, 7, 8, 109, 110, 111])
    }

    @Test func referenceModeFollowsTheConfig() throws {
        // Train-mode ŷ (the reference's behaviour) moves the teacher's running statistics; eval mode does not.
        func teacherStats(trainMode: Bool) throws -> (before: [[Float]], after: [[Float]], refs: [Float]) {
            let c = try fixture.config("dino", dinoSets + ["ssps.enabled=true", "ssps.sampling=knn", "ssps.neighbours=1",
                                                             "ssps.positive_queue=4", "ssps.teacher_reference_train_mode=\(trainMode)"])
            let stepper = TrainingStep(config: c, speakerCount: 1, referenceCapacity: 4, stepsPerEpoch: 4)
            var rng = SplitMix64(seed: 5)
            let batch = TrainingBatch(views: c.viewSamples.map { Tensor(shape: [4, 40, c.featureConfig.frameCount(samples: $0)], uniform: -1, 1, rng: &rng) },
                                      labels: [0, 0, 0, 0], indices: [0, 1, 2, 3],
                                      reference: Tensor(shape: [4, 40, 101], uniform: -1, 1, rng: &rng), audioSeconds: 1)
            let dino = try #require(stepper.dino)
            let before = dino.teacher.buffers.map(\.values)
            let refs = dino.referenceEmbeddings(batch, training: trainMode)
            return (before, dino.teacher.buffers.map(\.values), refs)
        }
        let train = try teacherStats(trainMode: true), eval = try teacherStats(trainMode: false)
        #expect(train.after != train.before && eval.after == eval.before)
        #expect(train.refs != eval.refs && train.refs.count == 4 * 8)
    }

    @Test func sspsStageContinuesTheBaseDINORun() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let base = try Trainer(config: try fixture.config("dino", dinoSets), runDirectory: dir.path("base"), resume: false)
        try base.run()
        let ssps = try Trainer(config: try sspsConfig(dir.path("base")), runDirectory: dir.path("ssps"), resume: false)
        #expect(ssps.epochsDone == 1 && ssps.stepper.dino!.teacher.parameters.map(\.values) == base.stepper.dino!.teacher.parameters.map(\.values))
        #expect(ssps.stepper.dino!.center.values == base.stepper.dino!.center.values)
        let log = try ssps.run()
        #expect(log.count == 3 && log[0].ssps == nil && log.allSatisfy { $0.loss.isFinite })
        for row in log.dropFirst() {
            let s = try #require(row.ssps)
            #expect(s.coverage > 0 && s.coverage <= 1, "\(s)")
        }
        let memory = try #require(ssps.stepper.memory)
        #expect(memory.isFilled && memory.dimension == 8 && memory.positiveDimension == 2 * 64)
        let ck = try TrainingCheckpoint.read(path: dir.path("ssps/checkpoint-epoch003.safetensors"))
        #expect(ck.config.methodName == "dino-ssps" && ck.shapes["ssps.positive.embedding"] == [8, 128])
    }

    @Test func sspsResumeContinuesExactly() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        _ = try Trainer(config: try fixture.config("dino", dinoSets), runDirectory: dir.path("base"), resume: false).run()
        let fullLog = try Trainer(config: try sspsConfig(dir.path("base")), runDirectory: dir.path("a"), resume: false).run()
        var first = try sspsConfig(dir.path("base"))
        first.epochs = 2
        _ = try Trainer(config: first, runDirectory: dir.path("b"), resume: false).run()
        let resumedLog = try Trainer(config: try sspsConfig(dir.path("base")), runDirectory: dir.path("b"), resume: true).run()
        #expect(fullLog.map(\.deterministicPart) == resumedLog.map(\.deterministicPart))
        let a = try TrainingCheckpoint.read(path: dir.path("a/checkpoint-epoch003.safetensors"))
        let b = try TrainingCheckpoint.read(path: dir.path("b/checkpoint-epoch003.safetensors"))
        #expect(a.tensors.keys.sorted() == b.tensors.keys.sorted())
        for (name, values) in a.tensors { #expect(values == b.tensors[name]!, "\(name) differs") }
    }
}
