import Foundation
import Testing
import SVAutograd
import SVKernels
import SpeakerVerification
import _SVTestSupport
@testable import SVTraining

/// DINO (reference §4): loss and center against torch, views, a tiny run, exact resume, export.
@Suite(.serialized) struct DINOTests {
    let fixture = TinyCorpusFixture.shared
    /// A small head and short crops on the C = 16 fixture model; lr 0.05 with a 1-epoch warm-up so
    /// the student moves within 2 epochs; schedules fixed at 2 epochs so a resumed run is the same run.
    let dinoSets = ["method=dino", "dino.hidden=32", "dino.bottleneck=16", "dino.prototypes=64", "dino_global_seconds=0.6",
                    "dino_local_seconds=0.3", "lr=0.05", "weight_decay=5e-5", "dino.warmup_epochs=1", "dino.schedule_epochs=2"]

    func uniform(_ shape: [Int], _ lo: Float, _ hi: Float, seed: UInt64) -> SVAutograd.Tensor {
        var rng = SplitMix64(seed: seed)
        return SVAutograd.Tensor(shape: shape, uniform: lo, hi, rng: &rng)
    }

    @Test func lossGradientAndCenterMatchTorch() {
        // tools/reference/dino_reference.py: N = 2, K = 5, sslsv DINOLoss (τ_s 0.1, τ_t 0.04, center momentum 0.9).
        let student = Variable(uniform([12, 5], -1, 1, seed: 11), requiresGrad: true)
        let teacher = uniform([4, 5], -0.2, 0.2, seed: 12), center = uniform([5], -0.05, 0.05, seed: 13).values
        let g = Graph()
        let loss = DINOLoss.loss(g, student: student, teacher: teacher, center: center, studentTemperature: 0.1, teacherTemperature: 0.04)
        g.backward(from: loss)
        #expect(Swift.abs(Double(loss.values[0]) - 7.800808906555176) < 2e-6)
        let grad: [Double] = [-0.3775007724761963, -0.08526255935430527, 0.44235363602638245, 0.032148294150829315, -0.01173857506364584, 3.527294029481709e-05, -0.4510467052459717, 0.0018006557365879416, -0.014062955975532532, 0.46327370405197144, -0.002373551717028022, -0.26192960143089294, 0.07658868283033371, 0.04845379665493965, 0.1392606943845749, -0.003551493166014552, -0.0011691960971802473, -0.028327446430921555, -0.005113029386848211, 0.03816116228699684, -0.3806200623512268, 0.37831395864486694, 0.2190953493118286, -0.20292839407920837, -0.013860787265002728, 0.5177628993988037, -0.327490895986557, -0.4775499105453491, -0.0287788026034832, 0.3160567283630371, 0.12205935269594193, -0.3473683297634125, 0.0883624479174614, 0.174160435795784, -0.03721382096409798, 0.9959092736244202, -0.45331594347953796, -0.49100369215011597, -0.02836444601416588, -0.023225096985697746, -0.3805878460407257, -0.34744691848754883, 0.9332829713821411, -0.1626099944114685, -0.042638134211301804, -0.003657025983557105, -0.3103265166282654, -0.4878009855747223, 0.8250070810317993, -0.023222647607326508, -0.3349606990814209, -0.3474314510822296, -0.009051581844687462, 0.7355215549468994, -0.044077835977077484, 0.026705427095294, -0.45331645011901855, -0.4909888505935669, -0.008674269542098045, 0.9262741804122925]
        for (a, b) in zip(student.grad!, grad) { #expect(Swift.abs(Double(a) - b) < 2e-6) }
        let expectedCenter: [Double] = [0.02411610074341297, -0.008810624480247498, 0.014281448908150196, -0.020375685766339302, 0.03169451281428337]
        for (a, b) in zip(DINOLoss.updatedCenter(center, teacher: teacher, momentum: 0.9), expectedCenter) { #expect(Swift.abs(Double(a) - b) < 1e-8) }
        // The teacher is detached: only the student's logits receive a gradient.
        #expect(DINOLoss.teacherProbabilities(teacher, center: center, temperature: 0.04).count == 20)
    }

    @Test func configAndViews() throws {
        let c = try fixture.config("dino", Array(dinoSets.dropFirst()))
        #expect(c.method == .dino && c.methodName == "dino" && c.dino.prototypes == 64)
        #expect(c.viewSamples == [9600, 9600, 4800, 4800, 4800, 4800])
        let defaults = try TrainingConfig.resolve(fileText: nil, overrides: ["method=dino"])
        #expect(defaults.dino == DINOConfig() && defaults.dinoGlobalSeconds == 4 && defaults.dinoLocalSeconds == 2)
        #expect(defaults.dino.hidden == 2048 && defaults.dino.bottleneck == 256 && defaults.dino.studentTemperature == 0.1
                && defaults.dino.teacherTemperature == 0.04 && defaults.dino.momentum == 0.996 && defaults.dino.warmupEpochs == 10
                && defaults.dino.clipGrad == 3 && defaults.dino.freezeLastLayer == 1 && defaults.dino.centerMomentum == 0.9)
        #expect(try TrainingConfig.decode(json: c.json, source: "x") == c)
        func message(_ sets: [String]) -> String {
            do { _ = try TrainingConfig.resolve(fileText: nil, overrides: ["method=dino"] + sets); return "" } catch { return error.description }
        }
        #expect(message(["dino.bogus=1"]).contains("'dino.bogus'"))
        #expect(message(["dino.student_temperature=0"]).contains("'dino.teacher_temperature'"))
        #expect(message(["dino_local_seconds=0"]).contains("'dino_local_seconds'"))
        #expect(message(["dino.momentum=1.5"]).contains("'dino.momentum'"))
        // Six independent crops per row, each of its own length; the globals differ from each other.
        let corpus = try TrainingCorpus(path: fixture.path)
        let planner = BatchPlanner(config: c, corpus: corpus, augmenter: nil)
        let b = try planner.batch(epoch: 0, step: 0, order: planner.order(epoch: 0), extractor: try FeatureExtractor(config: c.featureConfig))
        #expect(b.views.map(\.shape) == [[4, 40, 61], [4, 40, 61], [4, 40, 31], [4, 40, 31], [4, 40, 31], [4, 40, 31]])
        #expect(b.views[0] != b.views[1] && b.views[2] != b.views[3])
        #expect(abs(b.audioSeconds - 4 * (2 * 0.6 + 4 * 0.3)) < 1e-9)
    }

    @Test func oraclePositiveDINORunsAndExportsItsTeacher() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let sets = ["method=dino-oracle"] + dinoSets.dropFirst() + ["epochs=1"]
        let trainer = try Trainer(config: try fixture.config("dino-oracle", sets), runDirectory: dir.path("run"), resume: false)
        #expect(trainer.config.methodName == "dino-oracle" && trainer.stepper.dino != nil)
        let log = try trainer.run()
        #expect(log.count == 1 && log[0].loss.isFinite && log[0].loss > 0)
        let checkpoint = try TrainingCheckpoint.read(path: try TrainingCheckpoint.lastPath(runDirectory: dir.path("run")))
        #expect(checkpoint.inferencePrefix == "teacher.")
        #expect(try checkpoint.makeModel().parameters.map(\.values) == trainer.stepper.dino!.teacher.parameters.map(\.values))
    }

    @Test func twoEpochRunTrainsTheStudentAndAveragesItIntoTheTeacher() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let trainer = try Trainer(config: try fixture.config("dino", dinoSets + ["epochs=2"]), runDirectory: dir.path("run"), resume: false)
        let dino = try #require(trainer.stepper.dino)
        let initialLast = dino.head.lastLayer.values
        let initialTeacher = dino.teacher.parameters.map(\.values)
        #expect(initialTeacher == trainer.model.parameters.map(\.values), "the teacher starts as a copy of the student")
        var lastLayerAfterEpoch1: [Float] = []
        trainer.onEpoch = { row in if row.epoch == 1 { lastLayerAfterEpoch1 = dino.head.lastLayer.values } }
        let log = try trainer.run()
        #expect(log.count == 2 && log.allSatisfy { $0.loss.isFinite && $0.loss > 0 })
        #expect(log[1].validationEER.map { $0 >= 0 && $0 <= 100 } == true)
        // Last layer frozen during epoch 0 (no gradient, so weight decay and momentum leave it too), trained after.
        #expect(lastLayerAfterEpoch1 == initialLast && dino.head.lastLayer.values != initialLast)
        #expect(dino.optimizer.momentumBuffers.last! != nil)
        // The teacher moved (EMA) but is not the student.
        let teacher = dino.teacher.parameters.map(\.values), student = trainer.model.parameters.map(\.values)
        #expect(teacher != initialTeacher && teacher != student)
        #expect(dino.center.values.contains { $0 != 0 })
        // Log lr: the epoch's last step; 4 steps per epoch, warm-up 4 steps → lr(3) = 0.05, lr(7) on the cosine.
        #expect(log[0].lr == 0.05 && log[1].lr == dino.learningRate(globalStep: 7) && log[1].lr < 0.05)
        #expect(trainer.optimizer.stepCount == 8 && trainer.optimizer.parameters.isEmpty)
        // EMA momentum: sslsv updates with the τ its previous step set (τ(s − 1)), the base at step 0; 8 scheduled steps.
        #expect(dino.totalSteps == 8 && dino.emaMomentum(globalStep: 0) == 0.996 && dino.emaMomentum(globalStep: 1) == 0.996)
        #expect(dino.emaMomentum(globalStep: 5) == teacherMomentum(step: 4, totalSteps: 8, base: 0.996))
        #expect(abs(dino.emaMomentum(globalStep: 5) - (1 - 0.004 * (cos(Double.pi * 4 / 8) + 1) / 2)) < 1e-15)
    }

    @Test func resumeContinuesExactly() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let extra = dinoSets + ["epochs=2", "augmentation=all"]
        let fullLog = try Trainer(config: try fixture.config("dino", extra), runDirectory: dir.path("a"), resume: false).run()
        var first = try fixture.config("dino", extra)
        first.epochs = 1
        _ = try Trainer(config: first, runDirectory: dir.path("b"), resume: false).run()
        let resumed = try Trainer(config: try fixture.config("dino", extra), runDirectory: dir.path("b"), resume: true)
        #expect(resumed.epochsDone == 1)
        let resumedLog = try resumed.run()
        #expect(fullLog.map(\.deterministicPart) == resumedLog.map(\.deterministicPart))
        let a = try TrainingCheckpoint.read(path: dir.path("a/checkpoint-epoch002.safetensors"))
        let b = try TrainingCheckpoint.read(path: dir.path("b/checkpoint-epoch002.safetensors"))
        #expect(a.tensors.keys.sorted() == b.tensors.keys.sorted())
        for (name, values) in a.tensors { #expect(values == b.tensors[name]!, "\(name) differs") }
        #expect(a.globalStep == 8 && a.adamStep == 8)
        // What the checkpoint holds: student, head, teacher, teacher head, center, SGD momentum.
        for name in ["model.fc.conv.weight", "head.last_layer.weight_v", "head.mlp.1.running_var", "teacher.fc.conv.weight",
                     "teacher.asp_bn.norm.running_mean", "teacher_head.mlp.6.weight", "dino.center",
                     "sgd.momentum.model.fc.conv.weight", "sgd.momentum.head.last_layer.weight_v"] {
            #expect(a.tensors[name] != nil, "\(name) missing")
        }
        // After epoch 1 the last layer has had no gradient yet: no momentum buffer is stored for it.
        let one = try TrainingCheckpoint.read(path: dir.path("b/checkpoint-epoch001.safetensors"))
        #expect(one.tensors["sgd.momentum.head.last_layer.weight_v"] == nil && one.tensors["sgd.momentum.head.mlp.6.weight"] != nil)
        // Checkpoint averaging covers the teacher, which export writes.
        let (avg, epochs) = try TrainingCheckpoint.averaged(runDirectory: dir.path("b"), last: b, count: 2)
        #expect(epochs == 1...2 && avg.inferencePrefix == "teacher.")
        let name = "teacher.fc.conv.weight"
        for i in 0..<avg.tensors[name]!.count {
            let mean = (Double(one.tensors[name]![i]) + Double(b.tensors[name]![i])) / 2
            #expect(abs(Double(avg.tensors[name]![i]) - mean) < 1e-7)
        }
        #expect(try avg.makeModel().parameters.last!.values == avg.tensors["teacher.asp_bn.norm.bias"]!)
    }

    @Test func exportWritesTheTeacherAndLoadsInTheInferenceCore() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let trainer = try Trainer(config: try fixture.config("dino", dinoSets), runDirectory: dir.path("run"), resume: false)
        try trainer.run()
        let ckPath = try TrainingCheckpoint.lastPath(runDirectory: dir.path("run"))
        let ck = try TrainingCheckpoint.read(path: ckPath)
        let file = try ModelExport.modelFile(checkpoint: ck, checkpointPath: ckPath)
        try file.write(path: dir.path("m.safetensors"))
        let model = try SpeakerModel.load(path: dir.path("m.safetensors"))
        #expect(model.metadata.training?.contains("\"method\":\"dino\"") == true)
        let wav = fixture.path + "/wav/" + trainer.corpus.train[0].path
        let embedding = try Embedder(model: model).embed(path: wav)
        let audio = try AudioFile.readMono(path: wav).samples
        let f = try model.frontEnd.extract(audio)
        let features = Variable(SVAutograd.Tensor(shape: [1, f.mels, f.frames], values: f.values))
        let teacher = trainer.stepper.dino!.teacher.forward(Graph(training: false, recording: false), features: features).values
        let student = trainer.model.forward(Graph(training: false, recording: false), features: features).values
        #expect(cosineSimilarity(teacher, embedding) > 0.9999)
        #expect(teacher != student)
    }

    @Test(arguments: [false, true])
    func benchTimesDINOSteps(ssps: Bool) throws {
        // `spkv-train bench` shares TrainingStep: 6 views of their own lengths, and for SSPS the reference crops.
        let c = try fixture.config("dino", Array(dinoSets.dropFirst()) + (ssps ? ["ssps.enabled=true", "ssps.positive_queue=4"] : []))
        let r = TrainingStepBenchmark.run(config: c, warmup: 0, steps: 1)
        #expect(r.method == "dino" && r.cropSeconds == 0.6 && r.step.median > 0)
        #expect(abs(r.audioSecondsPerSecond * r.step.median / 1000 - 4 * 2.4) < 1e-6)
    }
}
