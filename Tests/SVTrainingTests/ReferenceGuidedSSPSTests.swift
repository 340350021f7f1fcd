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

    @Test func theCacheIsKeyedByAudioFileSoMergedCorporaAndOtherRunsReuseIt() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let fm = FileManager.default
        // Corpus "a": the fixture's meta.tsv over a copy of its audio; corpus "b": the same rows, its wav/ a symlink to a's
        // (as `corpus merge` links its sources).
        for name in ["a", "b"] {
            try fm.createDirectory(atPath: dir.path(name), withIntermediateDirectories: true)
            try fm.copyItem(atPath: "\(fixture.path)/meta.tsv", toPath: dir.path("\(name)/meta.tsv"))
        }
        try fm.copyItem(atPath: "\(fixture.path)/wav", toPath: dir.path("a/wav"))
        try fm.createSymbolicLink(atPath: dir.path("b/wav"), withDestinationPath: dir.path("a/wav"))
        let a = try TrainingCorpus(path: dir.path("a")), b = try TrainingCorpus(path: dir.path("b"))
        let lines = LogLines()
        let first = try FrozenEmbeddingTable.load(modelPath: Self.referenceModel, corpus: a, runDirectory: dir.path("run-a"), threads: 1,
                                                  sharedCache: dir.path("shared"), log: { lines.append($0) })
        let model = try SpeakerModel.load(path: Self.referenceModel)
        #expect(!first.fromCache && fm.fileExists(atPath: dir.path("shared/\(model.checksum).safetensors")))
        // Another run on the linked corpus embeds nothing: its rows come from the shared cache, equal to the first run's.
        let linked = try FrozenEmbeddingTable.load(modelPath: Self.referenceModel, corpus: b, runDirectory: dir.path("run-b"), threads: 1,
                                                   sharedCache: dir.path("shared"), log: { lines.append($0) })
        #expect(linked.fromCache && linked.rows == first.rows)
        // The distillation teacher of run-b is the same model: it reads the SSPS reference's cache of that run.
        let teacher = try FrozenEmbeddingTable.load(modelPath: Self.referenceModel, corpus: b, runDirectory: dir.path("run-b"), threads: 1,
                                                    role: .distillTeacher)
        #expect(teacher.fromCache && teacher.rows == first.rows && fm.fileExists(atPath: dir.path("run-b/distill-teacher.safetensors")))
        // A changed audio file is embedded again, and only that one.
        let changed = dir.path("a/wav/\(a.train[0].path)")
        try fm.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 3600)], ofItemAtPath: changed)
        lines.clear()
        let again = try FrozenEmbeddingTable.load(modelPath: Self.referenceModel, corpus: b, runDirectory: dir.path("run-c"), threads: 1,
                                                  sharedCache: dir.path("shared"), log: { lines.append($0) })
        #expect(!again.fromCache && again.rows == first.rows)
        #expect(lines.all.contains { $0.contains(" 1 of \(b.train.count) utterances embedded") }, "\(lines.all)")
        // A cache in the earlier corpus-keyed format (same model and corpus) is still read.
        try fm.createDirectory(atPath: dir.path("run-d"), withIntermediateDirectories: true)
        let legacy = try MagNetOInputs.extract(paths: a.train.map { a.wavPath($0.path) }, model: model, threads: 1)
        try legacy.write(path: dir.path("run-d/ssps-reference.safetensors"), modelChecksum: model.checksum, corpusID: a.id)
        let old = try FrozenEmbeddingTable.load(modelPath: Self.referenceModel, corpus: a, runDirectory: dir.path("run-d"), threads: 1)
        #expect(old.fromCache && old.rows == first.rows)
    }

    @Test func anInterruptedEmbeddingKeepsWhatItEmbedded() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir.path("c"), withIntermediateDirectories: true)
        try fm.copyItem(atPath: "\(fixture.path)/meta.tsv", toPath: dir.path("c/meta.tsv"))
        try fm.copyItem(atPath: "\(fixture.path)/wav", toPath: dir.path("c/wav"))
        let corpus = try TrainingCorpus(path: dir.path("c"))
        let whole = try FrozenEmbeddingTable.load(modelPath: Self.referenceModel, corpus: corpus, runDirectory: dir.path("whole"), threads: 1)
        // The fifth clip is unreadable: the load fails in its third chunk of two, after saving the first four rows.
        let broken = dir.path("c/wav/\(corpus.train[4].path)")
        let good = try Data(contentsOf: URL(fileURLWithPath: broken))
        try Data("not audio".utf8).write(to: URL(fileURLWithPath: broken))
        #expect(throws: TrainingError.self) {
            try FrozenEmbeddingTable.load(modelPath: Self.referenceModel, corpus: corpus, runDirectory: dir.path("run"), threads: 1, saveEvery: 2)
        }
        let model = try SpeakerModel.load(path: Self.referenceModel)
        let saved = try EmbeddingCache.read(path: dir.path("run/ssps-reference.safetensors"), modelChecksum: model.checksum,
                                            embeddingDimension: model.embeddingSize)
        #expect(saved.entries.count == 4)
        // Mended, the next load embeds only the rest, and the table is the one a single pass gives.
        try good.write(to: URL(fileURLWithPath: broken))
        let lines = LogLines()
        let resumed = try FrozenEmbeddingTable.load(modelPath: Self.referenceModel, corpus: corpus, runDirectory: dir.path("run"), threads: 1,
                                                    saveEvery: 2, log: { lines.append($0) })
        #expect(lines.all.contains { $0.contains(" \(corpus.train.count - 4) of \(corpus.train.count) utterances embedded") }, "\(lines.all)")
        #expect(maxAbsDifference(resumed.rows, whole.rows) < 1e-5)
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

/// Log lines collected from a `@Sendable` callback.
final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    var all: [String] { lock.withLock { lines } }
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    func clear() { lock.withLock { lines.removeAll() } }
}
