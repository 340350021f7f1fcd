import Foundation
import Testing
import SVAutograd
import SVCorpus
import _SVTestSupport
@testable import SVTraining

/// Unlabeled speech (speaker '-', as the game-speech import writes it) merged with a labeled corpus and
/// its dev set: labels where they exist, refusals where they are needed, SimCLR training with
/// band-limited crops, and the dev trials of the labeled source as the evaluation.
@Suite(.serialized) struct UnlabeledCorpusTests {
    /// A tiny corpus rewritten as unlabeled: every utterance its own recording, speaker '-', no dev.
    static func unlabeled(_ dir: TemporaryDirectory) throws -> String {
        let path = dir.path("unlabeled")
        try TinyCorpus.write(to: path, trainSpeakers: 3, devSpeakers: 1, seed: 11)
        let rows = try CorpusManifest.read(path: "\(path)/meta.tsv").filter { $0.split == .train }.map { u -> CorpusUtterance in
            var v = u
            v.speaker = GameSpeechImport.unlabeledSpeaker
            v.recording = u.id
            return v
        }
        try CorpusManifest.writeAtomically(CorpusManifest.tsv(rows), to: "\(path)/meta.tsv")
        try FileManager.default.removeItem(atPath: "\(path)/dev")
        return path
    }

    /// The unlabeled corpus merged with the tiny labeled one (its dev set included) in `dir/merged`.
    static func merged(_ dir: TemporaryDirectory) throws -> TrainingCorpus {
        let game = try unlabeled(dir)
        _ = try CorpusMerge.run(sources: [CorpusMerge.Source("game=\(game)"), CorpusMerge.Source("synth=\(TinyCorpusFixture.shared.path)")],
                                output: dir.path("merged"), force: false)
        return try TrainingCorpus(path: dir.path("merged"))
    }

    @Test func mergeKeepsSourcesApartAndTheLabeledDevSet() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let game = try Self.unlabeled(dir)
        let synth = TinyCorpusFixture.shared.path
        let rows = try CorpusMerge.run(sources: [CorpusMerge.Source("game=\(game)"), CorpusMerge.Source("synth=\(synth)")],
                                       output: dir.path("merged"), force: false)
        let gameRows = rows.filter { $0.id.hasPrefix("game/") }, synthRows = rows.filter { $0.id.hasPrefix("synth/") }
        #expect(gameRows.count == 12 && gameRows.allSatisfy { $0.speaker == "-" && $0.path.hasPrefix("game/") })
        #expect(!synthRows.isEmpty && synthRows.allSatisfy { $0.speaker.hasPrefix("synth/") && $0.recording.hasPrefix("synth/") })
        // Paths resolve through the wav/NAME links.
        for u in [gameRows[0], synthRows[0]] { #expect(FileManager.default.fileExists(atPath: dir.path("merged/wav/\(u.path)"))) }
        // The dev trials are the labeled source's own, with rewritten paths.
        let original = try String(contentsOfFile: "\(synth)/dev/trials-cross-channel.txt", encoding: .utf8).split(separator: "\n")
        let merged = try String(contentsOfFile: dir.path("merged/dev/trials-cross-channel.txt"), encoding: .utf8).split(separator: "\n")
        #expect(merged.count == original.count && merged.first?.contains(" synth/") == true)

        let corpus = try TrainingCorpus(path: dir.path("merged"))
        #expect(corpus.unlabeledCount == 12 && corpus.trials.count == original.count)
        // Every unlabeled utterance is its own pseudo-speaker; labeled speakers keep their utterances together.
        let unlabeledLabels = corpus.labels.enumerated().filter { !corpus.labeled[$0.offset] }.map(\.element)
        #expect(Set(unlabeledLabels).count == 12)
        #expect(Set(corpus.labels.enumerated().filter { corpus.labeled[$0.offset] }.map(\.element)).count == 4)
        // --dev-only: the labeled corpus contributes its dev set alone.
        let devOnly = try CorpusMerge.run(sources: CorpusMerge.sources(["game=\(game)", "synth=\(synth)"], devOnly: ["synth"]),
                                          output: dir.path("dev-only"), force: false)
        #expect(devOnly.filter { $0.split == .train }.count == 12 && devOnly.contains { $0.split == .dev })
        #expect(throws: CorpusError.self) { try CorpusMerge.sources(["game=\(game)"], devOnly: ["nope"]) }
        // Name clashes and single corpora are refused.
        #expect(throws: CorpusError.self) { try CorpusMerge.run(sources: [CorpusMerge.Source(game)], output: dir.path("m2"), force: false) }
        #expect(throws: CorpusError.self) {
            try CorpusMerge.run(sources: [CorpusMerge.Source("a=\(game)"), CorpusMerge.Source("a=\(synth)")], output: dir.path("m3"), force: false)
        }
    }

    @Test func methodsThatNeedLabelsAreRefusedAndSimCLRTrainsWithBandLimitedCrops() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        _ = try Self.merged(dir)
        for method in ["supervised", "simclr-oracle"] {
            var config = try TinyCorpusFixture.shared.config(method)
            config.corpus = dir.path("merged")
            #expect { try Trainer(config: config, runDirectory: dir.path("r-\(method)"), resume: false) } throws: {
                "\($0)".contains("needs speaker labels") && "\($0)".contains("12")
            }
        }
        var config = try TinyCorpusFixture.shared.config("simclr", ["band_limit.probability=0.5"])
        config.corpus = dir.path("merged")
        let trainer = try Trainer(config: config, runDirectory: dir.path("run"), resume: false)
        let log = try trainer.run()
        #expect(log.count == 1 && log[0].loss.isFinite && log[0].validationEER != nil)
        #expect(throws: TrainingError.self) { try TinyCorpusFixture.shared.config("simclr", ["band_limit.probability=1.5"]).check() }
    }

    @Test func theSameSpeakerShareCountsOnlyLabeledPairs() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let corpus = try Self.merged(dir)
        let memory = SSPSMemory(referenceCapacity: 4, positiveCapacity: 4, dimension: 2, positiveDimension: 2)
        let unlabeled = corpus.labeled.indices.filter { !corpus.labeled[$0] }, labeled = corpus.labeled.indices.filter { corpus.labeled[$0] }
        let sameSpeaker = labeled.first { corpus.labels[$0] == corpus.labels[labeled[0]] && $0 != labeled[0] }!
        memory.write(step: 0, indices: [unlabeled[1], sameSpeaker], references: [Float](repeating: 0, count: 4), positives: [Float](repeating: 0, count: 4))
        var counts = SSPSDrawCounts()
        counts.add(anchors: [unlabeled[0]], picks: [0], memory: memory, corpus: corpus)
        #expect(counts.stats(nmiSpeaker: nil, nmiRecording: nil).sameSpeaker.isNaN, "no labeled pair: no share")
        counts.add(anchors: [labeled[0]], picks: [1], memory: memory, corpus: corpus)
        let stats = counts.stats(nmiSpeaker: nil, nmiRecording: nil)
        // Other-recording share needs no labels: both pairs count (the unlabeled one always differs).
        let differs = corpus.train[labeled[0]].recording != corpus.train[sameSpeaker].recording
        #expect(stats.sameSpeaker == 1 && stats.coverage == 1 && stats.otherRecording == (differs ? 1 : 0.5))
    }

    @Test func sspsRunsOnAPartlyUnlabeledCorpusWithLabeledOnlyDiagnostics() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let corpus = try Self.merged(dir)
        var base = try TinyCorpusFixture.shared.config("simclr")
        base.corpus = dir.path("merged")
        _ = try Trainer(config: base, runDirectory: dir.path("base"), resume: false).run()
        var stage = try TinyCorpusFixture.shared.config("simclr", ["epochs=2", "ssps.enabled=true", "ssps.clusters=4",
                                                                  "ssps.positive_queue=8", "ssps.reference_seconds=1",
                                                                  "init_from=\(dir.path("base"))"])
        stage.corpus = dir.path("merged")
        let log = try Trainer(config: stage, runDirectory: dir.path("ssps"), resume: false).run()
        let stats = try #require(log.last?.ssps)
        #expect(stats.coverage >= 0 && stats.coverage <= 1 && stats.otherRecording >= 0 && stats.otherRecording <= 1)
        // Same-speaker share and NMI are over labeled utterances only: a number in [0, 1] or NaN, never counting '-'.
        #expect(stats.sameSpeaker.isNaN || (0...1).contains(stats.sameSpeaker))
        #expect(stats.nmiSpeaker.map { (0...1.0001).contains($0) } ?? true)
        #expect(corpus.unlabeledCount == 12)
    }
}
