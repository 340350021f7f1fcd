import Foundation
import Testing
import SVKernels
import _SVTestSupport
@testable import SpeakerVerification

/// Enrollment profiles, single verification and trial scoring with the shipped test model.
@Suite struct VerificationBackEndTests {
    static let speech = ["speech_a_3s", "speech_b_8s", "speech_c_15s"].map { Fixtures.path("speech/\($0).wav") }

    static func model() throws -> SpeakerModel {
        try SpeakerModel(file: ModelImport.run(from: .speechbrain, source: Fixtures.path("ecapa/speechbrain_c64.safetensors"),
                                               output: nil).file)
    }

    /// The same model with a linear calibration in its scoring section.
    static func calibratedModel(scale: Double, offset: Double) throws -> SpeakerModel {
        var file = try ModelImport.run(from: .speechbrain, source: Fixtures.path("ecapa/speechbrain_c64.safetensors"), output: nil).file
        var config = ScoringConfig(kind: .linear, calibration: LinearCalibration(scale: scale, offset: offset, prior: 0.01))
        config.fittedOn = ["kind": "cosine"]
        file.metadata.scoring = config.jsonString()
        return try SpeakerModel(file: file)
    }

    @Test func profileIsTheMeanOfNormalisedEmbeddingsAndRoundTrips() throws {
        let model = try Self.model()
        let profile = try Enrollment.enroll(name: "joe", paths: Array(Self.speech.prefix(2)), model: model, minimumSpeechSeconds: 1)
        let embedder = Embedder(model: model)
        let a = Cosine.normalized(try embedder.embed(path: Self.speech[0]))
        let b = Cosine.normalized(try embedder.embed(path: Self.speech[1]))
        // Enrollment embeds on its own, this test on its thread: OpenBLAS may split their sums another way.
        #expect(maxAbsDifference(profile.embedding, zip(a, b).map { ($0 + $1) / 2 }) < 1e-5)
        #expect(profile.modelChecksum == model.checksum && profile.recordings.count == 2)
        #expect(abs(profile.recordings[0].seconds - 57_571.0 / 16_000) < 1e-9)
        #expect(profile.recordings.allSatisfy { $0.speechSeconds > 1 && $0.speechSeconds <= $0.seconds })

        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try profile.write(path: dir.path("joe.json"))
        #expect(try SpeakerProfile.read(path: dir.path("joe.json")) == profile)

        // A changed embedding value no longer matches its CRC.
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.url.appendingPathComponent("joe.json"))) as! [String: Any]
        var values = object["embedding"] as! [Double]
        values[0] += 0.25
        object["embedding"] = values
        try JSONSerialization.data(withJSONObject: object).write(to: dir.url.appendingPathComponent("bad.json"))
        #expect(throws: ProfileError.self) { try SpeakerProfile.read(path: dir.path("bad.json")) }
    }

    /// The profile writer once opened `.NAME.tmp-PID` with O_TRUNC: a symlink planted under that name
    /// had its target overwritten. It now goes through AtomicFile (random name, O_EXCL | O_NOFOLLOW).
    @Test func writingAProfileDoesNotFollowAPlantedSymlink() throws {
        let model = try Self.model()
        let profile = try Enrollment.enroll(name: "joe", paths: [Self.speech[0]], model: model, minimumSpeechSeconds: 1)
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Data("precious".utf8).write(to: dir.url.appendingPathComponent("victim"))
        try FileManager.default.createSymbolicLink(atPath: dir.path(".joe.json.tmp-\(getpid())"), withDestinationPath: dir.path("victim"))
        try profile.write(path: dir.path("joe.json"))
        #expect(FileManager.default.contents(atPath: dir.path("victim")) == Data("precious".utf8))
        #expect(try SpeakerProfile.read(path: dir.path("joe.json")) == profile)
    }

    @Test func tooLittleSpeechAndDigitalSilenceAreRefused() throws {
        let model = try Self.model()
        #expect(throws: EnrollmentError.self) {
            try Enrollment.enroll(name: "joe", paths: [Self.speech[0]], model: model, minimumSpeechSeconds: 60)
        }
        do {
            _ = try Enrollment.enroll(name: "joe", paths: [Self.speech[0]], model: model, minimumSpeechSeconds: 60)
        } catch {
            #expect(error.description.contains("too little speech") && error.description.contains("speech_a_3s.wav"))
        }
        #expect(throws: EnrollmentError.invalidName("")) { try Enrollment.enroll(name: "", paths: Self.speech, model: model) }
    }

    @Test func profileFromAnotherModelIsRefused() throws {
        let model = try Self.model()
        let profile = try Enrollment.enroll(name: "joe", paths: [Self.speech[2]], model: model)
        let other = try SpeakerModel(file: ModelImport.run(from: .wespeaker, source: Fixtures.path("ecapa/wespeaker_c32.safetensors"),
                                                           output: nil).file)
        #expect(throws: VerificationError.self) {
            try Verification.verify(profile: profile, profilePath: "p.json", audioPath: Self.speech[0], model: other,
                                    threshold: 0.5, prior: 0.01)
        }
    }

    @Test func decisionsFollowTheThresholdOrTheCalibratedBayesThreshold() throws {
        let model = try Self.model()
        let profile = try Enrollment.enroll(name: "joe", paths: [Self.speech[0]], model: model, minimumSpeechSeconds: 1)
        let r = try Verification.verify(profile: profile, profilePath: "p", audioPath: Self.speech[1], model: model,
                                        threshold: 0.1, prior: 0.01)
        #expect(r.llr == nil && r.accepted == (r.cosine >= 0.1))
        let strict = try Verification.verify(profile: profile, profilePath: "p", audioPath: Self.speech[1], model: model,
                                             threshold: r.cosine + 1e-4, prior: 0.01)  // above the recomputed score's rounding
        #expect(!strict.accepted)
        #expect(throws: VerificationError.noThreshold) {
            try Verification.verify(profile: profile, profilePath: "p", audioPath: Self.speech[1], model: model, threshold: nil, prior: 0.01)
        }
        // Calibrated: llr = 10·cos − 2; the Bayes threshold at P = 0.01 is log 99 ≈ 4.595.
        let calibrated = try Self.calibratedModel(scale: 10, offset: -2)
        let c = try Verification.verify(profile: profile, profilePath: "p", audioPath: Self.speech[1], model: calibrated,
                                        threshold: nil, prior: 0.01)
        #expect(abs(c.llr! - (10 * c.cosine - 2)) < 1e-9)
        #expect(abs(c.threshold - log(99)) < 1e-12)
        #expect(c.accepted == (10 * c.cosine - 2 >= log(99)))
    }

    /// A multi-clip model is the mean of its clips' unit embeddings (as a profile is); its clips must exist.
    @Test func trialScoringEnrollsModelsFromSeveralClips() throws {
        let model = try Self.model()
        var scorer = TrialScoring(model: model)
        scorer.audioRoot = Fixtures.path("speech")
        scorer.enrollments = ["joe": ["speech_a_3s.wav", "speech_b_8s.wav"]]
        let scores = try scorer.score(try TrialList.parse("1 joe speech_c_15s.wav\n0 speech_a_3s.wav speech_c_15s.wav\n", source: "t"))
        let embedder = Embedder(model: model)
        let a = Cosine.normalized(try embedder.embed(path: Self.speech[0])), b = Cosine.normalized(try embedder.embed(path: Self.speech[1]))
        let c = try embedder.embed(path: Self.speech[2])
        let mean = zip(a, b).map { ($0 + $1) / 2 }
        #expect(abs(scores.trials[0].score - Double(Cosine.similarity(mean, c))) < 1e-5)
        #expect(abs(scores.trials[1].score - Double(Cosine.similarity(a, c))) < 1e-5)
        #expect(abs(scores.trials[0].score - scores.trials[1].score) > 1e-4, "the model is not its first clip")
        // A model may stand on the test side too, and scores the same both ways round.
        let reversed = try scorer.score(try TrialList.parse("1 speech_c_15s.wav joe\n", source: "t"))
        #expect(abs(reversed.trials[0].score - scores.trials[0].score) < 1e-9)
        scorer.enrollments = ["joe": []]
        #expect(throws: TrialScoringError.scoring("enrollment model 'joe' has no clips")) {
            try scorer.score(try TrialList.parse("1 joe speech_c_15s.wav\n", source: "t"))
        }
        scorer.enrollments = ["joe": ["speech_a_3s.wav", "gone.wav"]]
        #expect(throws: TrialScoringError.missingAudio([Fixtures.path("speech") + "/gone.wav"])) {
            try scorer.score(try TrialList.parse("1 joe speech_c_15s.wav\n", source: "t"))
        }
    }

    @Test func trialScoringListsMissingFilesAndUsesTheCache() throws {
        let model = try Self.model()
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let root = Fixtures.path("speech")
        let trials = try TrialList.parse("""
            1 speech_a_3s.wav speech_b_8s.wav
            0 speech_a_3s.wav speech_c_15s.wav
            speech_b_8s.wav speech_c_15s.wav
            """, source: "t")
        var scorer = TrialScoring(model: model)
        scorer.audioRoot = root
        scorer.cachePath = dir.path("cache.safetensors")
        let first = try scorer.score(trials)
        #expect(first.trials.map(\.label) == [.target, .nontarget, nil])
        let embedder = Embedder(model: model)
        let a = try embedder.embed(path: Self.speech[0]), b = try embedder.embed(path: Self.speech[1])
        #expect(abs(first.trials[0].score - Double(Cosine.similarity(a, b))) < 1e-5)  // batch vs own embeddings
        #expect(first.header["kind"] == "cosine" && first.header["model"] == model.checksum)

        // The cache holds all three files; a planted entry proves the second run reads it.
        var cache = try EmbeddingCache.read(path: dir.path("cache.safetensors"), modelChecksum: model.checksum,
                                             embeddingDimension: model.embeddingSize)
        #expect(cache.entries.count == 3)
        let key = EmbeddingCache.Key.current(path: Self.speech[2])!
        cache[key] = a            // pretend speech_c sounds exactly like speech_a
        try cache.write(path: dir.path("cache.safetensors"))
        let second = try scorer.score(trials)
        #expect(abs(second.trials[1].score - 1) < 1e-6)

        #expect(throws: EmbeddingCacheError.self) {
            _ = try EmbeddingCache.read(path: dir.path("cache.safetensors"), modelChecksum: "00000000", embeddingDimension: model.embeddingSize)
        }
        let missing = try TrialList.parse("1 nope1.wav speech_a_3s.wav\n0 nope2.wav nope1.wav\n", source: "t")
        #expect(throws: TrialScoringError.missingAudio([root + "/nope1.wav", root + "/nope2.wav"])) { try scorer.score(missing) }
    }

    @Test func asNormScoresFollowTheCohortStatistics() throws {
        let model = try Self.model()
        let root = Fixtures.path("speech")
        let trials = try TrialList.parse("1 speech_a_3s.wav speech_b_8s.wav\n", source: "t")
        var scorer = TrialScoring(model: model)
        scorer.audioRoot = root
        scorer.cohortPaths = ["speech_b_8s.wav", "speech_c_15s.wav", "speech_a_3s.wav"]
        scorer.cohortTopN = 2
        let list = try scorer.score(trials)
        #expect(list.header["kind"] == "asnorm" && list.header["asnorm_top_n"] == "2")
        // By hand: top-2 cosine scores of each side against the cohort, population std.
        let e = Embedder(model: model)
        let emb = try ["speech_a_3s", "speech_b_8s", "speech_c_15s"].map { Cosine.normalized(try e.embed(path: "\(root)/\($0).wav")) }
        func stats(_ x: [Float]) -> (Double, Double) {
            let top = emb.map { Double(Cosine.similarity(x, $0)) }.sorted(by: >).prefix(2)
            let mean = top.reduce(0, +) / 2
            return (mean, (top.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 2).squareRoot())
        }
        let raw = Double(Cosine.similarity(emb[0], emb[1]))
        let (me, se) = stats(emb[0]), (mt, st) = stats(emb[1])
        let expected = ((raw - me) / se + (raw - mt) / st) / 2
        #expect(abs(list.trials[0].score - expected) < 1e-4 * max(1, abs(expected)), "\(list.trials[0].score) vs \(expected)")

        // The same cohort given as ready embeddings gives the same scores.
        var fromEmbeddings = TrialScoring(model: model)
        fromEmbeddings.audioRoot = root
        fromEmbeddings.cohortEmbeddings = [emb[1], emb[2], emb[0]]
        fromEmbeddings.cohortTopN = 2
        let same = try fromEmbeddings.score(trials)
        // Cohort embedded by the batch scorer vs by this thread: equal to rounding, magnified by 1/σ of the top N.
        #expect(abs(same.trials[0].score - list.trials[0].score) < 1e-4 * max(1, abs(list.trials[0].score)),
                "\(same.trials[0].score) vs \(list.trials[0].score)")
    }
}
