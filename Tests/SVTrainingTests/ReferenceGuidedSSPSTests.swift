import Foundation
import Testing
import _SVTestSupport
@testable import SpeakerVerification
@testable import SVTraining

/// Reference-guided SSPS (`ssps.reference_model`): ŷ from a frozen spkv model's embedding of each whole clean
/// utterance, computed once and cached, instead of the student's embedding of a reference crop.
@Suite(.serialized) struct ReferenceGuidedSSPSTests {
    let fixture = TinyCorpusFixture.shared
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// A small real model file (random weights: only its space matters here, not its accuracy).
    static let referenceModel = root.appendingPathComponent("models/ecapa-c64-random-v1.safetensors").path

    func config(_ extra: [String]) throws -> TrainingConfig {
        try fixture.config("simclr", ["epochs=3", "ssps.enabled=true", "ssps.clusters=4", "ssps.positive_queue=8",
                                      "ssps.reference_model=\(Self.referenceModel)"] + extra)
    }

    @Test func theQueuesHoldTheReferenceModelsEmbeddingsOfWholeUtterancesCachedOnce() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        _ = try Trainer(config: try fixture.config("simclr"), runDirectory: dir.path("base"), resume: false).run()
        var first = try config(["init_from=\(dir.path("base"))"])
        first.epochs = 2
        let stage = try Trainer(config: first, runDirectory: dir.path("ssps"), resume: false)
        let table = try #require(stage.stepper.references)
        let reference = try SpeakerModel.load(path: Self.referenceModel)
        #expect(!table.fromCache && table.dimension == reference.embeddingSize && table.modelChecksum == reference.checksum)
        #expect(FileManager.default.fileExists(atPath: dir.path("ssps/ssps-reference.safetensors")))
        // Each row is the frozen model's embedding of the whole utterance, unit length (computed here independently).
        let corpus = try TrainingCorpus(path: fixture.path)
        let embedder = Embedder(model: reference)
        for i in [0, corpus.train.count / 2, corpus.train.count - 1] {
            let e = Cosine.normalized(try embedder.embed(path: corpus.wavPath(corpus.train[i].path)))
            let row = table.references([i])
            #expect(maxAbsDifference(row, e) < 1e-5, "utterance \(i)")
        }
        let log = try stage.run()
        #expect(log.count == 2 && log[1].ssps != nil)
        let s = try #require(log[1].ssps)
        #expect(s.coverage > 0 && (0...1).contains(s.sameSpeaker) && s.nmiSpeaker.map { (0...1).contains($0) } == true)
        // Q̂ holds the table's rows for the utterances written there, in the reference model's width.
        let memory = try #require(stage.stepper.memory)
        #expect(memory.isFilled && memory.dimension == reference.embeddingSize)
        for slot in 0..<memory.referenceCapacity {
            let index = Int(memory.referenceIndices[slot])
            let stored = Array(memory.referenceEmbeddings[(slot * memory.dimension)..<((slot + 1) * memory.dimension)])
            #expect(stored == table.references([index]), "Q̂ row \(slot)")
        }
        // Batches cut no reference crops: ŷ never comes from the audio again.
        #expect(stage.stepper.config.ssps.usesReferenceModel)

        // Resuming reads the cache instead of embedding the corpus again, and goes on.
        var more = try config(["init_from=\(dir.path("base"))"])
        more.epochs = 3
        let resumed = try Trainer(config: more, runDirectory: dir.path("ssps"), resume: true)
        #expect(resumed.stepper.references?.fromCache == true && resumed.stepper.references?.rows == table.rows)
        #expect(try resumed.run().count == 3)
    }

    @Test func anotherModelOrCorpusRecomputesTheCache() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let corpus = try TrainingCorpus(path: fixture.path)
        let a = try FrozenEmbeddingTable.load(modelPath: Self.referenceModel, corpus: corpus, runDirectory: dir.path(""), threads: 1)
        let again = try FrozenEmbeddingTable.load(modelPath: Self.referenceModel, corpus: corpus, runDirectory: dir.path(""), threads: 1)
        #expect(!a.fromCache && again.fromCache && again.rows == a.rows)
        // The CAM++ test network: another checksum, another width; the cache of the first model is not used.
        let campplus = try ModelImport.run(from: .campplus, source: Fixtures.path("campplus/campplus_small.safetensors"),
                                           output: dir.path("campplus.safetensors"))
        _ = campplus
        let b = try FrozenEmbeddingTable.load(modelPath: dir.path("campplus.safetensors"), corpus: corpus, runDirectory: dir.path(""), threads: 1)
        #expect(!b.fromCache && b.modelChecksum != a.modelChecksum)
        // A damaged cache is an error that says how to recover.
        try Data("not a cache".utf8).write(to: URL(fileURLWithPath: dir.path("ssps-reference.safetensors")))
        #expect { try FrozenEmbeddingTable.load(modelPath: Self.referenceModel, corpus: corpus, runDirectory: dir.path(""), threads: 1) } throws: {
            "\($0)".contains("delete it to recompute")
        }
    }

    @Test func configErrorsNameTheKey() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        #expect { try fixture.config("dino", ["ssps.enabled=true", "ssps.reference_model=\(Self.referenceModel)"]) } throws: {
            "\($0)".contains("ssps.reference_model")
        }
        _ = try Trainer(config: try fixture.config("simclr"), runDirectory: dir.path("base"), resume: false).run()
        #expect { try Trainer(config: try config(["init_from=\(dir.path("base"))", "ssps.reference_model=\(dir.path("none.safetensors"))"]),
                              runDirectory: dir.path("x"), resume: false) } throws: {
            "\($0)".contains("ssps.reference_model") && "\($0)".contains("none.safetensors")
        }
    }
}
