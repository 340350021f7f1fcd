import Foundation
import Testing
import SVAutograd
import SVKernels
import SpeakerVerification
import _SVTestSupport
@testable import SVTraining

/// A tiny synthetic corpus (harmonic "voices", no external programs) shared by the run tests.
final class TinyCorpusFixture: @unchecked Sendable {
    static let shared = TinyCorpusFixture()
    let dir: TemporaryDirectory
    var path: String { dir.path("corpus") }

    private init() {
        dir = try! TemporaryDirectory()
        try! TinyCorpus.write(to: dir.path("corpus"))
    }

    /// A small, fast configuration: C = 16, 0.5 s crops, batch 4 (4 steps per epoch).
    func config(_ method: String, _ extra: [String] = []) throws -> TrainingConfig {
        try TrainingConfig.resolve(fileText: """
            {"method": "\(method)", "corpus": "\(path)", "batch_size": 4, "crop_seconds": 0.5, "epochs": 1,
             "lr": 0.002, "threads": 1,
             "model": {"channels": [16, 16, 16, 16, 48], "res2net_scale": 4, "se_channels": 8,
                       "attention_channels": 8, "embedding_size": 8}}
            """, overrides: extra)
    }
}

@Suite(.serialized) struct TrainingConfigTests {
    @Test func defaultsAreTheReferenceRecipe() throws {
        let c = try TrainingConfig.resolve(fileText: nil, overrides: [])
        #expect(c.method == .simclr && c.temperature == 0.03 && c.learningRate == 1e-3 && c.lrDecay == 0.95 && c.lrStepEpochs == 5)
        #expect(c.features == "sslsv-40" && c.model.inputSize == 40 && c.model.channels[0] == 256)
        #expect(c.aamScale == 30 && c.aamMargin == 0.2 && c.cropSamples == 32_000)
        #expect(c.learningRate(epoch: 4) == 1e-3 && abs(c.learningRate(epoch: 5) - 0.95e-3) < 1e-9)
    }

    @Test func fileThenOverrides() throws {
        let c = try TrainingConfig.resolve(fileText: #"{"method": "supervised", "epochs": 3, "model": {"embedding_size": 64}}"#,
                                           overrides: ["epochs=7", "model.channels=[64,64,64,64,192]", "augmentation=reverb+noise",
                                                       "corpus=/data/c", "lr=5e-4"])
        #expect(c.method == .supervised && c.epochs == 7 && c.model.embeddingSize == 64 && c.model.channels == [64, 64, 64, 64, 192])
        #expect(c.augmentation.rawValue == "reverb+noise" && c.corpus == "/data/c" && c.learningRate == 5e-4)
        // The resolved JSON reads back to the same config.
        #expect(try TrainingConfig.decode(json: c.json, source: "x") == c)
    }

    @Test func errorsNameTheKey() {
        func message(_ file: String?, _ sets: [String]) -> String {
            do { _ = try TrainingConfig.resolve(fileText: file, overrides: sets); return "" } catch { return error.description }
        }
        #expect(message(nil, ["bogus=1"]).contains("'bogus'"))
        #expect(message(nil, ["model.bogus=1"]).contains("'model.bogus'"))
        #expect(message(#"{"batchsize": 3}"#, []).contains("'batchsize'"))
        #expect(message(nil, ["batch_size=abc"]).contains("'batch_size'"))
        #expect(message(nil, ["method=byol"]).contains("'method'"))
        #expect(message(nil, ["epochs=0"]).contains("'epochs'"))
        #expect(message(nil, ["augmentation=loud"]).contains("'augmentation'"))
        #expect(message(nil, ["features=sslsv-80"]).contains("'model.input_size'"))
        #expect(message(nil, ["novalue"]).contains("key=value"))
        #expect(message("{not json", []).contains("not valid JSON"))
    }
}

@Suite(.serialized) struct TrainingRunTests {
    let fixture = TinyCorpusFixture.shared

    @Test(arguments: ["supervised", "simclr", "simclr-oracle"])
    func oneEpochOfEachMethod(method: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let trainer = try Trainer(config: try fixture.config(method), runDirectory: dir.path("run"), resume: false)
        let log = try trainer.run()
        #expect(log.count == 1 && log[0].loss.isFinite && log[0].step == 4)
        #expect(log[0].validationEER.map { $0 >= 0 && $0 <= 100 } == true)
        let fm = FileManager.default
        for name in ["config.json", "log.csv", "training.svg", "checkpoint-epoch001.safetensors", "checkpoint-last"] {
            #expect(fm.fileExists(atPath: dir.path("run/\(name)")), "\(name)")
        }
        let csv = try String(contentsOfFile: dir.path("run/log.csv"), encoding: .utf8).split(separator: "\n")
        #expect(csv.first.map(String.init) == TrainingLogRow.header && csv.count == 2)
        #expect(try TrainingCheckpoint.lastPath(runDirectory: dir.path("run")).hasSuffix("checkpoint-epoch001.safetensors"))
        // A fresh run into a folder that holds one is refused.
        #expect(throws: TrainingError.self) { try Trainer(config: try fixture.config(method), runDirectory: dir.path("run"), resume: false) }
    }

    @Test func resumeContinuesExactly() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let extra = ["epochs=2", "augmentation=reverb+noise", "weight_decay=1e-4"]
        let full = try Trainer(config: try fixture.config("simclr-oracle", extra), runDirectory: dir.path("a"), resume: false)
        let fullLog = try full.run()

        var first = try fixture.config("simclr-oracle", extra)
        first.epochs = 1
        _ = try Trainer(config: first, runDirectory: dir.path("b"), resume: false).run()
        let resumed = try Trainer(config: try fixture.config("simclr-oracle", extra), runDirectory: dir.path("b"), resume: true)
        #expect(resumed.epochsDone == 1)
        let resumedLog = try resumed.run()

        #expect(fullLog.map(\.deterministicPart) == resumedLog.map(\.deterministicPart))
        #expect(resumedLog.count == 2)
        let a = try TrainingCheckpoint.read(path: dir.path("a/checkpoint-epoch002.safetensors"))
        let b = try TrainingCheckpoint.read(path: dir.path("b/checkpoint-epoch002.safetensors"))
        #expect(a.tensors.keys.sorted() == b.tensors.keys.sorted())
        for (name, values) in a.tensors { #expect(values == b.tensors[name]!, "\(name) differs") }
        #expect(a.adamStep == b.adamStep && a.globalStep == b.globalStep && a.adamStep == 8)
        let csvA = try String(contentsOfFile: dir.path("a/log.csv"), encoding: .utf8).split(separator: "\n").count
        let csvB = try String(contentsOfFile: dir.path("b/log.csv"), encoding: .utf8).split(separator: "\n").count
        #expect(csvA == 3 && csvB == 3)
    }

    @Test func supervisedResumeRestoresTheClassifier() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let full = try Trainer(config: try fixture.config("supervised", ["epochs=2"]), runDirectory: dir.path("a"), resume: false)
        try full.run()
        _ = try Trainer(config: try fixture.config("supervised"), runDirectory: dir.path("b"), resume: false).run()
        let resumed = try Trainer(config: try fixture.config("supervised", ["epochs=2"]), runDirectory: dir.path("b"), resume: true)
        try resumed.run()
        #expect(full.classifier!.values == resumed.classifier!.values)
        #expect(full.model.parameters.map(\.values) == resumed.model.parameters.map(\.values))
        #expect(full.model.buffers.map(\.values) == resumed.model.buffers.map(\.values))
    }

    @Test func corruptCheckpointsAndConfigsAreClearErrors() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let run = dir.path("run")
        try Trainer(config: try fixture.config("simclr"), runDirectory: run, resume: false).run()
        let path = run + "/checkpoint-epoch001.safetensors"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))

        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
        #expect { try Trainer(config: try fixture.config("simclr", ["epochs=2"]), runDirectory: run, resume: true) } throws: { error in
            "\(error)".contains("checkpoint-epoch001.safetensors") && "\(error)".contains("truncated or corrupt")
        }
        var flipped = bytes
        flipped[flipped.count - 5] ^= 0x40
        try flipped.write(to: URL(fileURLWithPath: path))
        #expect { try TrainingCheckpoint.read(path: path) } throws: { "\($0)".contains("checksum") }

        try bytes.write(to: URL(fileURLWithPath: path))
        // A different config (not just epochs/threads) is refused on resume.
        #expect { try Trainer(config: try fixture.config("simclr", ["epochs=2", "lr=0.1"]), runDirectory: run, resume: true) } throws: {
            "\($0)".contains("config differs")
        }
        #expect { try Trainer(config: try fixture.config("simclr"), runDirectory: dir.path("empty"), resume: true) } throws: {
            "\($0)".contains("nothing to resume")
        }
        #expect { try TrainingConfig.decode(json: "{\"epochs\": \"x\"}", source: "config.json") } throws: { "\($0)".contains("'epochs'") }
        // A missing corpus.
        #expect { try Trainer(config: try fixture.config("simclr", ["corpus=/nonexistent"]), runDirectory: dir.path("x"), resume: false) } throws: {
            "\($0)".contains("meta.tsv")
        }
    }

    @Test func exportLoadsInTheInferenceCore() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // A corpus given relative to the working directory is stored as a plain absolute path (export finds it from anywhere).
        let cwdDepth = FileManager.default.currentDirectoryPath.split(separator: "/").count
        let relative = String(repeating: "../", count: cwdDepth) + fixture.path.drop { $0 == "/" }
        let trainer = try Trainer(config: try fixture.config("supervised", ["epochs=2", "corpus=\(relative)"]), runDirectory: dir.path("run"), resume: false)
        #expect(!relative.hasPrefix("/") && trainer.config.corpus == fixture.path, "\(relative) → \(trainer.config.corpus)")
        try trainer.run()
        let ckPath = try TrainingCheckpoint.lastPath(runDirectory: dir.path("run"))
        let ck = try TrainingCheckpoint.read(path: ckPath)
        let file = try ModelExport.modelFile(checkpoint: ck, checkpointPath: ckPath)
        try file.write(path: dir.path("m.safetensors"))
        let model = try SpeakerModel.load(path: dir.path("m.safetensors"))
        let training = model.metadata.training ?? ""
        #expect(training.contains("\"method\":\"supervised\"") && training.contains("validation_eer_percent"))
        #expect(training.contains("corpus_id") && training.contains("\"epochs\":\"2\""))
        // What it heard: the tiny corpus's one source with its training utterance count.
        let fields = try #require(try JSONSerialization.jsonObject(with: Data(training.utf8)) as? [String: Any])
        let sources = try #require(try JSONSerialization.jsonObject(with: Data(((fields["corpus_sources"] as? String) ?? "").utf8)) as? [String: [String: Any]])
        #expect(sources.keys.sorted() == ["tiny"] && sources["tiny"]?["utterances"] as? Int == trainer.corpus.train.count)
        let wav = fixture.path + "/wav/" + trainer.corpus.train[0].path
        let embedding = try Embedder(model: model).embed(path: wav)
        #expect(embedding.count == 8 && embedding.allSatisfy(\.isFinite))
        // Same embedding as the training graph in eval mode.
        let audio = try AudioFile.readMono(path: wav).samples
        let f = try model.frontEnd.extract(audio)
        let g = Graph(training: false, recording: false)
        let ours = trainer.model.forward(g, features: Variable(Tensor(shape: [1, f.mels, f.frames], values: f.values))).values
        #expect(cosineSimilarity(ours, embedding) > 0.9999)
    }
}

extension TrainingRunTests {
    @Test func checkpointAveragingIsTheMeanOfTheLastEpochs() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Trainer(config: try fixture.config("simclr", ["epochs=2", "validate=false"]), runDirectory: dir.path("run"), resume: false).run()
        let one = try TrainingCheckpoint.read(path: TrainingCheckpoint.path(runDirectory: dir.path("run"), epoch: 1))
        let two = try TrainingCheckpoint.read(path: TrainingCheckpoint.path(runDirectory: dir.path("run"), epoch: 2))
        #expect(two.log.count == 2 && two.log[1].validationEER == nil)
        let (avg, epochs) = try TrainingCheckpoint.averaged(runDirectory: dir.path("run"), last: two, count: 2)
        #expect(epochs == 1...2)
        let name = "model.fc.conv.weight"
        for i in 0..<avg.tensors[name]!.count {
            let mean = (Double(one.tensors[name]![i]) + Double(two.tensors[name]![i])) / 2
            #expect(abs(Double(avg.tensors[name]![i]) - mean) < 1e-7)
        }
        #expect(avg.tensors["adam.m.model.fc.conv.weight"] == two.tensors["adam.m.model.fc.conv.weight"])
        #expect(throws: TrainingError.self) { try TrainingCheckpoint.averaged(runDirectory: dir.path("run"), last: two, count: 3) }
        let file = try ModelExport.modelFile(checkpoint: avg, checkpointPath: "x", averagedEpochs: epochs)
        try file.write(path: dir.path("avg.safetensors"))
        #expect(try SpeakerModel.load(path: dir.path("avg.safetensors")).metadata.training?.contains("\"averaged_epochs\":\"1-2\"") == true)
    }
}

@Suite struct TrainingDataTests {
    @Test func wrapPaddingAndCrops() {
        // Reference §1.1: shorter than the crop → cyclically extended by length − len + 1.
        let x: [Float] = [1, 2, 3, 4, 5]
        #expect(BatchPlanner.wrapPad(x, to: 8) == [1, 2, 3, 4, 5, 1, 2, 3, 4])
        #expect(BatchPlanner.wrapPad(x, to: 5) == x)
        var starts = Set<Float>()
        for k in 0..<200 {
            var r = BatchPlanner.cropStream(seed: 1, epoch: 0, slot: k, view: 0)
            let c = BatchPlanner.crop(x, length: 8, using: &r)
            #expect(c.count == 8)
            starts.insert(c[0])
        }
        #expect(starts == [1, 2])   // start uniform in [0, 9 − 8], both ends reached
    }

    @Test func batchesDependOnlyOnSeedEpochAndIndex() throws {
        let fixture = TinyCorpusFixture.shared
        let config = try fixture.config("simclr-oracle")
        let corpus = try TrainingCorpus(path: fixture.path)
        let planner = BatchPlanner(config: config, corpus: corpus, augmenter: nil)
        #expect(planner.order(epoch: 0) == planner.order(epoch: 0) && planner.order(epoch: 0) != planner.order(epoch: 1))
        #expect(Set(planner.order(epoch: 3)) == Set(0..<corpus.train.count))
        for slot in 0..<corpus.train.count {
            let s = planner.sources(epoch: 0, slot: slot, order: planner.order(epoch: 0))
            #expect(s[0] != s[1] && corpus.labels[s[0]] == corpus.labels[s[1]], "oracle positive: another utterance, same speaker")
        }
        let extractor = try FeatureExtractor(config: config.featureConfig)
        // Bit for bit under one OpenBLAS thread count (the features are a GEMM; other suites change the
        // process's count, and OpenBLAS splits some sums by it), as a training run holds it.
        let (a, b) = try BLAS.withThreads(config.threads) { () throws -> (TrainingBatch, TrainingBatch) in
            (try planner.batch(epoch: 2, step: 1, order: planner.order(epoch: 2), extractor: extractor),
             try planner.batch(epoch: 2, step: 1, order: planner.order(epoch: 2), extractor: extractor))
        }
        #expect(a.views == b.views && a.labels == b.labels && a.views.count == 2)
        #expect(a.views[0].shape == [4, 40, 51])   // 0.5 s crops: 1 + 8000/160 frames
        #expect(a.views[0] != a.views[1])
    }

    @Test func oracleDINOTakesItsGlobalViewsFromAnotherUtteranceOfTheSpeaker() throws {
        let fixture = TinyCorpusFixture.shared
        let corpus = try TrainingCorpus(path: fixture.path)
        let oracle = BatchPlanner(config: try fixture.config("dino-oracle"), corpus: corpus, augmenter: nil)
        let simclr = BatchPlanner(config: try fixture.config("simclr-oracle"), corpus: corpus, augmenter: nil)
        let order = oracle.order(epoch: 1)
        for slot in 0..<corpus.train.count {
            let s = oracle.sources(epoch: 1, slot: slot, order: order)
            #expect(s.count == 6 && s[0] == s[1] && s[2...].allSatisfy { $0 == order[slot] })
            #expect(s[0] != order[slot] && corpus.labels[s[0]] == corpus.labels[order[slot]])
            // The same partner as oracle SimCLR draws for this slot: one oracle pairing for both methods.
            #expect(s[0] == simclr.sources(epoch: 1, slot: slot, order: order)[1])
        }
    }
}
