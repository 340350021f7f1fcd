import Foundation
import Testing
import _SVTestSupport
#if canImport(FoundationXML)
import FoundationXML
#endif

/// `spkv enroll`, `verify`, `score`, `calibrate` and `eval`, run as the built executable on the shipped
/// random-weight test model (`models/ecapa-c64-random-v1.safetensors`) and real speech (the labelled
/// `models/samples/fotaq-joe` set and the speech fixtures).
///
/// The expensive runs (embedding the 30 recordings of a trial list) are done once per process and shared
/// (`VerificationWorkspace`); every test writes its own outputs in its own temporary folder.
@Suite("spkv verification commands")
struct CLIVerificationTests {
    static let embeddingSize = 32
    /// Bayes threshold log((1 − P)/P) at the default target prior 0.01.
    static let bayesThreshold01 = log(99.0)

    // MARK: - enroll

    @Test("enroll writes a spkv-profile: model CRC, recordings with durations, the mean of the normalised embeddings")
    func enrollWritesProfile() throws {
        let ws = try VerificationWorkspace.shared.get()
        let r = ws.enrollResult
        #expect(r.status == 0, "\(r)")
        #expect(r.stderr.isEmpty, "\(r)")
        let data = try Data(contentsOf: URL(fileURLWithPath: ws.profile))
        let keys = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any]).keys
        #expect(Set(keys) == ["format", "version", "name", "model_checksum", "embedding", "embedding_crc32", "recordings", "created"])
        let profile = try JSONDecoder().decode(ProfileJSON.self, from: data)
        #expect(profile.format == "spkv-profile")
        #expect(profile.version == 1)
        #expect(profile.name == "joe")
        #expect(profile.model_checksum == ws.modelCRC)
        #expect(profile.embedding_crc32.count == 8 && profile.embedding_crc32.allSatisfy(\.isHexDigit), "\(profile.embedding_crc32)")
        #expect(ISO8601DateFormatter().date(from: profile.created) != nil, "\(profile.created)")

        // Recordings: the paths given, their durations (models/samples/fotaq-joe/README.md), some speech in each.
        try #require(profile.recordings.count == VerificationWorkspace.enrollClips.count)
        var totalSpeech = 0.0
        for (recording, (clip, seconds)) in zip(profile.recordings, zip(VerificationWorkspace.enrollClips, VerificationWorkspace.enrollSeconds)) {
            #expect(recording.path == Repo.sample(clip))
            #expect(abs(recording.seconds - seconds) < 0.001, "\(clip): \(recording.seconds) s")
            #expect(recording.speech_seconds > 0.5 && recording.speech_seconds <= recording.seconds,
                    "\(clip): \(recording.speech_seconds) s of speech in \(recording.seconds) s")
            totalSpeech += recording.speech_seconds
        }
        #expect(r.stdout == "enrolled joe from 2 recording(s), \(String(format: "%.2f", totalSpeech)) s of speech; wrote \(ws.profile)\n",
                "\(r)")

        // The embedding is the mean of the recordings' length-normalised embeddings (spkv embed).
        let embedding = profile.embedding
        #expect(embedding.count == Self.embeddingSize)
        #expect(embedding.allSatisfy { $0.isFinite })
        let embed = try spkv(["embed", "-m", Repo.model] + VerificationWorkspace.enrollClips.map(Repo.sample))
        try #require(embed.status == 0, "\(embed)")
        let vectors = embed.stdoutLines.map { parseEmbeddingLine($0).values.map { Double($0 ?? .nan) } }
        try #require(vectors.count == 2 && vectors.allSatisfy { $0.count == Self.embeddingSize }, "\(embed)")
        let normalized = vectors.map { v in v.map { $0 / sqrt(v.reduce(0) { $0 + $1 * $1 }) } }
        let mean = (0..<Self.embeddingSize).map { i in (normalized[0][i] + normalized[1][i]) / 2 }
        let worst = maxAbsDifference(mean, embedding)
        #expect(worst < 1e-5, "profile embedding differs from the mean of normalised embeddings by \(worst)")
        // Not already normalised (two different clips): the norm of the mean is below 1.
        #expect(sqrt(embedding.reduce(0) { $0 + $1 * $1 }) < 0.9999)
    }

    @Test("enroll with --min-speech 1000, or with a missing recording, exits 1 naming the files and writes nothing")
    func enrollFailures() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let out = scratch.path("p.json")
        let clips = VerificationWorkspace.enrollClips.map(Repo.sample)

        let tooLittle = try spkv(["enroll", "-m", Repo.model, "--name", "joe", "--min-speech", "1000", "-o", out] + clips)
        expectCleanFailure(tooLittle, naming: clips[0], containing: ["too little speech", "1000.00 s needed", "--min-speech"])
        #expect(tooLittle.stderr.contains(clips[1]), "\(tooLittle)")
        #expect(tooLittle.stdout.isEmpty, "\(tooLittle)")

        let missing = scratch.path("no-such-recording.flac")
        let absent = try spkv(["enroll", "-m", Repo.model, "--name", "joe", "-o", out, clips[0], missing])
        expectCleanFailure(absent, naming: missing, containing: ["does not exist"])
        #expect(absent.stdout.isEmpty, "\(absent)")

        // A failed enrollment leaves neither the profile nor a temporary file behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).isEmpty)

        let usage = try spkv(["enroll", "-m", Repo.model, "--name", "joe", "--min-speech=-1", "-o", out] + clips)
        #expect(usage.status == 64, "\(usage)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    // MARK: - verify

    @Test("verify with --threshold: exit 0 at or below the printed cosine, 2 above it; text and --json output")
    func verifyThresholdExitCodes() throws {
        let ws = try VerificationWorkspace.shared.get()
        let clip = Repo.sample(VerificationWorkspace.verifyClip)
        func verify(_ threshold: String, json: Bool = false) throws -> CLIResult {
            try spkv(["verify", "-m", Repo.model, "--enrollment", ws.profile, clip, "--threshold=\(threshold)"] + (json ? ["--json"] : []))
        }
        let probe = try verify("-1")
        #expect(probe.status == 0, "\(probe)")
        #expect(probe.stderr.isEmpty, "\(probe)")
        let text = VerifyText(probe.stdout)
        #expect(text.speaker == "joe", "\(probe)")
        let scoreField = try #require(text.score, "\(probe)")
        #expect(scoreField.hasSuffix(" (cosine)"), "\(probe)")
        let cosineText = String(scoreField.dropLast(" (cosine)".count))
        let cosine = try #require(Double(cosineText), "\(probe)")
        #expect(cosine > -1 && cosine < 1)
        #expect(cosine.description == cosineText, "not printed at full precision: \(cosineText)")
        #expect(text.threshold == "-1.0 (--threshold)", "\(probe)")
        #expect(text.decision == "accept", "\(probe)")

        // Exactly at the score is an accept (score ≥ threshold); one ulp above is a reject.
        let cases: [(threshold: Double, status: Int32, decision: String)] = [
            (cosine, 0, "accept"), (cosine.nextUp, 2, "reject"),
        ]
        for c in cases {
            let r = try verify(c.threshold.description)
            #expect(r.status == c.status, "threshold \(c.threshold): \(r)")
            #expect(VerifyText(r.stdout).decision == c.decision, "\(r)")
            #expect(VerifyText(r.stdout).threshold == "\(c.threshold) (--threshold)", "\(r)")
            #expect(VerifyText(r.stdout).score == scoreField, "\(r)")
        }

        let json = try verify(cosine.nextUp.description, json: true)
        #expect(json.status == 2, "\(json)")
        #expect(json.stdoutLines.count == 1, "\(json)")
        let keys = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], "\(json)").keys
        #expect(Set(keys) == ["audio", "speaker", "cosine", "score", "threshold", "threshold_source", "decision"],
                "an uncalibrated model has no llr: \(json)")
        let object = try VerifyJSON(json)
        #expect(object.cosine == cosine)
        #expect(object.score == cosine)
        #expect(object.threshold == cosine.nextUp)
        #expect(object.llr == nil)
        #expect(object.threshold_source == "--threshold")
        #expect(object.decision == "reject")
        #expect(object.speaker == "joe")
        #expect(object.audio == clip)
    }

    @Test("enroll and verify WAV fixtures: default --min-speech, exact duration, verify's cosine = cosine of the two embeddings")
    func wavEnrollAndVerify() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let a = CLIFixtures.speech("speech_a_3s"), b = CLIFixtures.speech("speech_b_8s")
        let profilePath = scratch.path("a.json")
        let enrolled = try spkv("enroll", "-m", Repo.model, "--name", "Joe (a)", a, "-o", profilePath)
        #expect(enrolled.status == 0, "\(enrolled)")
        let profile = try JSONDecoder().decode(ProfileJSON.self, from: Data(contentsOf: URL(fileURLWithPath: profilePath)))
        #expect(profile.name == "Joe (a)")
        try #require(profile.recordings.count == 1)
        #expect(abs(profile.recordings[0].seconds - 57_571.0 / 16_000) < 1e-9, "\(profile.recordings[0].seconds)")
        // The default minimum is 3 s of speech: this 3.6 s clip passes it, so its detected speech is in [3, 3.598].
        #expect(profile.recordings[0].speech_seconds >= 3 && profile.recordings[0].speech_seconds <= profile.recordings[0].seconds)
        let strict = try spkv("enroll", "-m", Repo.model, "--name", "a", a, "-o", scratch.path("strict.json"), "--min-speech", "3.6")
        expectCleanFailure(strict, naming: a, containing: ["too little speech", "3.60 s needed"])

        let r = try spkv("verify", "-m", Repo.model, "--enrollment", profilePath, b, "--threshold=0", "--json")
        let result = try VerifyJSON(r)
        #expect(r.status == (result.cosine >= 0 ? 0 : 2), "\(r)")
        let embed = try spkv("embed", "-m", Repo.model, a, b)
        try #require(embed.status == 0, "\(embed)")
        let v = embed.stdoutLines.map { parseEmbeddingLine($0).values.map { Double($0 ?? .nan) } }
        try #require(v.count == 2 && v.allSatisfy { $0.count == Self.embeddingSize })
        let dot = zip(v[0], v[1]).reduce(0) { $0 + $1.0 * $1.1 }
        let cosine = dot / sqrt(v[0].reduce(0) { $0 + $1 * $1 } * v[1].reduce(0) { $0 + $1 * $1 })
        #expect(abs(result.cosine - cosine) < 1e-5, "verify \(result.cosine), from embed \(cosine)")
    }

    @Test("verify --threshold accepts a negative value written as a separate argument (--threshold -0.5)")
    func verifyNegativeThreshold() throws {
        let ws = try VerificationWorkspace.shared.get()
        let clip = Repo.sample(VerificationWorkspace.verifyClip)
        // The `=` form works: the threshold is -0.5 and the cosine is above it.
        let joined = try spkv("verify", "-m", Repo.model, "--enrollment", ws.profile, clip, "--threshold=-0.5")
        #expect(joined.status == 0, "\(joined)")
        #expect(VerifyText(joined.stdout).threshold == "-0.5 (--threshold)", "\(joined)")
        // LLR thresholds are often negative (the Bayes threshold at P_target 0.99 is −4.6), so the usual spelling must work too.
        let separate = try spkv("verify", "-m", Repo.model, "--enrollment", ws.profile, clip, "--threshold", "-0.5")
        #expect(separate.status == 0, "\(separate)")
        #expect(separate.stdout == joined.stdout, "\(separate)")
    }

    @Test("verify errors: no threshold for an uncalibrated model, another model's profile, a corrupt profile, --prior 0")
    func verifyErrors() throws {
        let ws = try VerificationWorkspace.shared.get()
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let clip = Repo.sample(VerificationWorkspace.verifyClip)

        // Uncalibrated model, no --threshold: exit 1 with the way out.
        let noThreshold = try spkv("verify", "-m", Repo.model, "--enrollment", ws.profile, clip)
        #expect(noThreshold.status == 1, "\(noThreshold)")
        #expect(noThreshold.stderr.hasPrefix("spkv: "), "\(noThreshold)")
        for word in ["uncalibrated", "--threshold", "spkv calibrate"] {
            #expect(noThreshold.stderr.contains(word), "lacks '\(word)': \(noThreshold)")
        }
        #expect(noThreshold.stdout.isEmpty, "\(noThreshold)")

        // A profile enrolled with another model (WeSpeaker C=32 fixture, also 32-dimensional).
        let other = scratch.path("wespeaker.safetensors")
        let imported = try spkv("import", "--from", "wespeaker", Fixtures.path("ecapa/wespeaker_c32.safetensors"), "-o", other)
        try #require(imported.status == 0, "\(imported)")
        let otherCRC = try infoDataCRC(other)
        #expect(otherCRC != ws.modelCRC)
        let otherProfile = scratch.path("joe-wespeaker.json")
        let enrolled = try spkv(["enroll", "-m", other, "--name", "joe", "-o", otherProfile] + VerificationWorkspace.enrollClips.map(Repo.sample))
        try #require(enrolled.status == 0, "\(enrolled)")
        let mismatch = try spkv("verify", "-m", Repo.model, "--enrollment", otherProfile, clip, "--threshold", "0")
        expectCleanFailure(mismatch, naming: otherProfile,
                           containing: ["enrolled with model \(otherCRC)", "not with this model (\(ws.modelCRC))"])
        #expect(mismatch.stdout.isEmpty, "\(mismatch)")
        // …while it works with its own model.
        let own = try spkv("verify", "-m", other, "--enrollment", otherProfile, clip, "--threshold=-1")
        #expect(own.status == 0, "\(own)")

        // One embedding value edited: the stored CRC no longer matches.
        // The profile is pretty-printed, one embedding value a line: replace the fourth value's text.
        var lines = try String(contentsOfFile: ws.profile, encoding: .utf8).components(separatedBy: "\n")
        let start = try #require(lines.firstIndex { $0.contains("\"embedding\" : [") }, "\(lines)")
        let valueLine = start + 4
        let old = lines[valueLine].trimmingCharacters(in: CharacterSet(charactersIn: " ,"))
        try #require(Double(old) != nil, "not a value line: \(lines[valueLine])")
        let new = old == "0.125" ? "0.25" : "0.125"
        lines[valueLine] = lines[valueLine].replacingOccurrences(of: old, with: new)
        let corrupt = scratch.path("corrupt.json")
        try Data(lines.joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: corrupt))
        let reread = try JSONDecoder().decode(ProfileJSON.self, from: Data(contentsOf: URL(fileURLWithPath: corrupt)))
        #expect(reread.embedding.count == CLIVerificationTests.embeddingSize && reread.embedding[3] == Double(new))
        let corrupted = try spkv("verify", "-m", Repo.model, "--enrollment", corrupt, clip, "--threshold", "0")
        expectCleanFailure(corrupted, naming: corrupt, containing: ["corrupt", "enroll again"])
        #expect(corrupted.stdout.isEmpty, "\(corrupted)")

        // A missing profile and a missing recording are named.
        let noProfile = scratch.path("none.json")
        expectCleanFailure(try spkv("verify", "-m", Repo.model, "--enrollment", noProfile, clip, "--threshold", "0"), naming: noProfile)
        let noAudio = scratch.path("none.flac")
        expectCleanFailure(try spkv("verify", "-m", Repo.model, "--enrollment", ws.profile, noAudio, "--threshold", "0"), naming: noAudio)

        // Priors outside (0, 1) are usage errors, checked before any work.
        for prior in ["0", "1", "-0.5"] {
            let r = try spkv("verify", "-m", Repo.model, "--enrollment", ws.profile, clip, "--threshold", "0", "--prior=\(prior)")
            #expect(r.status == 64, "\(r)")
            #expect(r.stderr.contains("--prior"), "\(r)")
            #expect(r.stdout.isEmpty, "\(r)")
        }
    }

    // MARK: - score

    @Test("score writes the header, one line per trial in trial order with its label, full-precision cosines in [-1, 1]")
    func scoreOutput() throws {
        let ws = try VerificationWorkspace.shared.get()
        let r = ws.scoreResult
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.isEmpty, "\(r)")
        #expect(r.stderr.isEmpty, "no progress bar when stderr is not a terminal: \(r)")
        let text = try String(contentsOfFile: ws.calibrationScores, encoding: .utf8)
        #expect(text.hasSuffix("\n"))
        let scores = try ScoresText(text)
        #expect(scores.header == "# spkv-scores kind=cosine model=\(ws.modelCRC)")
        let trials = try Repo.trials("trials-calibration.txt")
        try #require(trials.count == 245)
        try #require(scores.lines.count == trials.count, "\(scores.lines.count) score lines")
        for (line, trial) in zip(scores.lines, trials) {
            #expect(line.enroll == trial.enroll && line.test == trial.test, "\(line) for trial \(trial)")
            #expect(line.label == (trial.label == "1" ? "target" : "nontarget"), "\(line)")
            #expect(line.score.isFinite && line.score >= -1 && line.score <= 1, "\(line)")
            #expect(line.score.description == line.scoreText, "not full precision: \(line.scoreText)")
        }
        #expect(Set(scores.lines.map(\.score)).count > 200, "scores barely vary")
        #expect(scores.lines.filter { $0.label == "target" }.count == 45)
        // A trial's score does not depend on its neighbours: the same pair scored alone gives the same value.
        let first = try #require(scores.lines.first)
        let single = ws.folder.path("single-\(UUID().uuidString).txt")
        try Data("1 \(first.enroll) \(first.test)\n".utf8).write(to: URL(fileURLWithPath: single))
        defer { try? FileManager.default.removeItem(atPath: single) }
        let alone = try spkv("score", "-m", Repo.model, "--trials", single, "--audio-root", Repo.samples)
        #expect(alone.status == 0, "\(alone)")
        #expect(alone.stdout == "\(scores.header)\n\(first.enroll) \(first.test) \(first.scoreText) target\n", "\(alone)")
    }

    @Test("score --threads 1 (to stdout) prints exactly the lines that --threads 2 (with --output) printed for the same trials")
    func scoreThreadsIdentical() throws {
        let ws = try VerificationWorkspace.shared.get()
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        // The trials among 4 Joe and 4 other clips (22 trials, 8 files), in list order: embedding the whole list
        // once more single-threaded would double the time of this suite, and a trial's score depends on its two files only.
        let lines = try String(contentsOfFile: Repo.sample("trials-calibration.txt"), encoding: .utf8).split(separator: "\n")
        let trials = try Repo.trials("trials-calibration.txt")
        let joes = Array(Set(trials.map(\.enroll))).sorted().prefix(4)
        let others = Array(Set(trials.map(\.test).filter { $0.hasPrefix("other_") })).sorted().prefix(4)
        let keep = Set(joes).union(others)
        let chosen = trials.indices.filter { keep.contains(trials[$0].enroll) && keep.contains(trials[$0].test) }
        try #require(chosen.count == 22, "\(chosen.count) trials")
        let subset = scratch.path("subset.txt")
        try Data((chosen.map { String(lines[$0]) }.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: subset))

        let one = try spkv("score", "-m", Repo.model, "--trials", subset, "--audio-root", Repo.samples, "--threads", "1")
        #expect(one.status == 0, "\(one)")
        let shared = try String(contentsOfFile: ws.calibrationScores, encoding: .utf8).split(separator: "\n")
        let expected = ([shared[0]] + chosen.map { shared[1 + $0] }).joined(separator: "\n") + "\n"
        #expect(one.stdout == expected)
    }

    @Test("score --embeddings: the cache holds every file, a second run reads it and prints identical output; another model refuses it")
    func scoreEmbeddingCache() throws {
        let ws = try VerificationWorkspace.shared.get()
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        #expect(FileManager.default.fileExists(atPath: ws.cache))
        // The cache index: the model's checksum, dimension 32 and one entry per distinct file (30).
        let metadata = try safetensorsMetadata(ws.cache)
        struct Index: Decodable { struct Key: Decodable { var path: String; var size: Int }; var modelChecksum: String; var dimension: Int; var keys: [Key] }
        let indexText = try #require(metadata["spkv.embedding_cache"], "\(metadata)")
        let index = try JSONDecoder().decode(Index.self, from: Data(indexText.utf8))
        #expect(index.modelChecksum == ws.modelCRC)
        #expect(index.dimension == Self.embeddingSize)
        let files = Set(try Repo.trials("trials-calibration.txt").flatMap { [$0.enroll, $0.test] })
        #expect(files.count == 30)
        #expect(index.keys.count == 30)
        #expect(Set(index.keys.map(\.path)) == Set(files.map(Repo.sample)))
        for key in index.keys {
            #expect(key.size == (try FileManager.default.attributesOfItem(atPath: key.path)[.size] as? Int), "\(key.path)")
        }

        // Second run on a copy of the cache: identical scores, the cache left as it was (nothing new to add).
        let copy = scratch.path("cache.safetensors")
        try FileManager.default.copyItem(atPath: ws.cache, toPath: copy)
        let out = scratch.path("again.scores")
        let again = try spkv("score", "-m", Repo.model, "--trials", Repo.sample("trials-calibration.txt"),
                             "--audio-root", Repo.samples, "--embeddings", copy, "-o", out)
        #expect(again.status == 0, "\(again)")
        #expect(try String(contentsOfFile: out, encoding: .utf8) == (try String(contentsOfFile: ws.calibrationScores, encoding: .utf8)))
        #expect(try Data(contentsOf: URL(fileURLWithPath: copy)) == (try Data(contentsOf: URL(fileURLWithPath: ws.cache))))

        // A cache made with another model is refused by name, before anything is embedded.
        let other = scratch.path("wespeaker.safetensors")
        try #require(try spkv("import", "--from", "wespeaker", Fixtures.path("ecapa/wespeaker_c32.safetensors"), "-o", other).status == 0)
        let refused = try spkv("score", "-m", other, "--trials", Repo.sample("trials-calibration.txt"),
                               "--audio-root", Repo.samples, "--embeddings", copy, "-o", scratch.path("other.scores"))
        expectCleanFailure(refused, naming: copy, containing: [ws.modelCRC])
        #expect(!FileManager.default.fileExists(atPath: scratch.path("other.scores")))
    }

    @Test("score: a malformed trial line is an error naming its line number; nothing is written")
    func scoreMalformedLine() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let list = scratch.path("trials.txt")
        // Line 4 (comment and blank lines count): an unknown label.
        try Data("# a comment\n1 joe_12001FJ1.flac joe_2800CDJ1.flac\n\n2 joe_12001FJ1.flac other_020020P1.flac\n0 joe_12001FJ1.flac other_070346P3.flac\n".utf8)
            .write(to: URL(fileURLWithPath: list))
        let out = scratch.path("out.scores"), cache = scratch.path("cache.safetensors")
        let r = try spkv("score", "-m", Repo.model, "--trials", list, "--audio-root", Repo.samples, "-o", out, "--embeddings", cache)
        expectCleanFailure(r, naming: "\(list):4:", containing: ["unknown label", "2 joe_12001FJ1.flac other_020020P1.flac"])
        #expect(!r.stderr.contains("\(list):2:") && !r.stderr.contains("\(list):5:"), "\(r)")
        #expect(r.stdout.isEmpty, "\(r)")
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(!FileManager.default.fileExists(atPath: cache))
    }

    @Test("score: two missing audio files are listed together before any work; no output, no cache")
    func scoreMissingFiles() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let list = scratch.path("trials.txt")
        try Data("""
            1 joe_12001FJ1.flac joe_2800CDJ1.flac
            0 joe_12001FJ1.flac missing_one.flac
            joe_12001FJ1.flac other_020020P1.flac nontarget
            missing_two.flac joe_2800CDJ1.flac

            """.utf8).write(to: URL(fileURLWithPath: list))
        let out = scratch.path("out.scores"), cache = scratch.path("cache.safetensors")
        let r = try spkv("score", "-m", Repo.model, "--trials", list, "--audio-root", Repo.samples, "-o", out, "--embeddings", cache)
        let one = Repo.sample("missing_one.flac"), two = Repo.sample("missing_two.flac")
        expectCleanFailure(r, naming: one, containing: ["2 audio file(s)", "do not exist", "nothing was computed"])
        #expect(r.stderr.contains(two), "\(r)")
        #expect(!r.stderr.contains("joe_2800CDJ1.flac"), "an existing file was reported: \(r)")
        #expect(r.stdout.isEmpty, "\(r)")
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(!FileManager.default.fileExists(atPath: cache), "the cache was written: work started")
    }

    // MARK: - calibrate, then score and verify with the calibrated model

    @Test("calibrate prints scale and offset, stores them as spkv.scoring (linear) and keeps the weights' CRC")
    func calibrateStoresScoring() throws {
        let ws = try VerificationWorkspace.shared.get()
        let r = ws.calibrateResult
        #expect(r.status == 0, "\(r)")
        #expect(r.stderr.isEmpty, "\(r)")
        #expect(r.stdout.hasPrefix("calibration: llr = \(ws.scale) · score + \(ws.offset) (prior 0.01, 45 target / 200 non-target trials); wrote \(ws.calibratedModel)"),
                "\(r)")
        #expect(ws.scale > 0, "a higher cosine must mean a higher LLR")
        #expect(ws.scale.isFinite && ws.offset.isFinite)

        let info = try spkv("info", "--json", ws.calibratedModel)
        #expect(info.status == 0, "\(info)")
        let object = try JSONDecoder().decode([String: String].self, from: Data(info.stdout.utf8))
        #expect(object["spkv.data_crc32"] == ws.modelCRC, "weights changed")
        let scoringText = try #require(object["spkv.scoring"], "\(info)")
        let scoring = try JSONDecoder().decode(ScoringJSON.self, from: Data(scoringText.utf8))
        #expect(scoring.kind == "linear", "\(scoringText)")
        #expect(scoring.scale == ws.scale, "stored scale differs from the printed one: \(scoringText)")
        #expect(scoring.offset == ws.offset, "stored offset differs from the printed one: \(scoringText)")
        #expect(scoring.prior == 0.01, "\(scoringText)")
        // The original model still says cosine.
        let original = try spkv("info", "--json", Repo.model)
        #expect(original.stdout.contains(#""spkv.scoring" : "{\"kind\":\"cosine\"}""#), "\(original)")

        // Calibrating on already calibrated scores is refused.
        let twice = try spkv("calibrate", "-m", ws.calibratedModel, "--scores", ws.calibratedScores, "-o", ws.folder.path("twice.safetensors"))
        expectCleanFailure(twice, naming: ws.calibratedScores, containing: ["already holds calibrated LLRs"])
        #expect(!FileManager.default.fileExists(atPath: ws.folder.path("twice.safetensors")))
    }

    @Test("score with the calibrated model: header kind=llr, each score = scale·cosine + offset of the uncalibrated run")
    func calibratedScores() throws {
        let ws = try VerificationWorkspace.shared.get()
        #expect(ws.calibratedScoreResult.status == 0, "\(ws.calibratedScoreResult)")
        let raw = try ScoresText(try String(contentsOfFile: ws.calibrationScores, encoding: .utf8))
        let calibrated = try ScoresText(try String(contentsOfFile: ws.calibratedScores, encoding: .utf8))
        #expect(calibrated.header == "# spkv-scores kind=llr model=\(ws.modelCRC) prior=0.01")
        try #require(calibrated.lines.count == raw.lines.count)
        var worst = 0.0
        for (c, r) in zip(calibrated.lines, raw.lines) {
            #expect(c.enroll == r.enroll && c.test == r.test && c.label == r.label, "\(c) vs \(r)")
            let expected = ws.scale * r.score + ws.offset
            worst = max(worst, abs(c.score - expected) / max(1, abs(expected)))
        }
        #expect(worst <= 1e-9, "largest relative difference from scale·cosine + offset: \(worst)")
        // The calibrated LLRs cross 0: targets mostly positive would be the sign of a sensible fit, but with random
        // weights only their order is guaranteed; at least they are not all on one side.
        #expect(calibrated.lines.contains { $0.score > 0 } && calibrated.lines.contains { $0.score < 0 })
    }

    @Test("verify with the calibrated model and the old profile: Bayes threshold log(99) at P=0.01, 0 at --prior 0.5")
    func calibratedVerify() throws {
        let ws = try VerificationWorkspace.shared.get()
        var statuses = Set<Int32>()
        var firstLLR: Double?
        for clip in [VerificationWorkspace.verifyClip, "other_020020P1.flac"] {
            let path = Repo.sample(clip)
            for (prior, threshold) in [(nil, Self.bayesThreshold01), ("0.5", 0.0)] as [(String?, Double)] {
                let args = ["verify", "-m", ws.calibratedModel, "--enrollment", ws.profile, path] + (prior.map { ["--prior", $0] } ?? [])
                let json = try spkv(args + ["--json"])
                let object = try VerifyJSON(json)
                let llr = try #require(object.llr, "\(json)")
                if firstLLR == nil { firstLLR = llr }
                let cosine = object.cosine, printedThreshold = object.threshold
                #expect(abs(printedThreshold - threshold) <= 1e-12, "\(json)")
                #expect(object.score == llr, "the decision score is the LLR: \(json)")
                #expect(abs(llr - (ws.scale * cosine + ws.offset)) <= 1e-9 * max(1, abs(llr)), "\(json)")
                #expect(object.threshold_source.contains("Bayes") && object.threshold_source.contains("\(prior ?? "0.01")"), "\(json)")
                let accept = llr >= printedThreshold
                #expect(json.status == (accept ? 0 : 2), "llr \(llr) vs threshold \(printedThreshold): \(json)")
                #expect(object.decision == (accept ? "accept" : "reject"), "\(json)")
                statuses.insert(json.status)

                // The text output says the same: score (LLR, with its cosine), threshold and where it came from.
                guard prior == nil else { continue }
                let text = try spkv(args)
                #expect(text.status == json.status, "\(text)")
                let t = VerifyText(text.stdout)
                #expect(t.score == "\(llr) (calibrated LLR; cosine \(cosine))", "\(text)")
                #expect(t.threshold?.hasPrefix("\(printedThreshold) (Bayes") == true, "\(text)")
                #expect(t.decision == (accept ? "accept" : "reject"), "\(text)")
            }
        }
        // On this model and these clips both outcomes occur, so both exit codes were exercised.
        #expect(statuses == [0, 2], "\(statuses)")

        // --threshold applies to the LLR when the model is calibrated.
        let llr = try #require(firstLLR)
        for (threshold, status) in [(llr, Int32(0)), (llr.nextUp, Int32(2))] {
            let r = try spkv("verify", "-m", ws.calibratedModel, "--enrollment", ws.profile, Repo.sample(VerificationWorkspace.verifyClip),
                             "--threshold=\(threshold)")
            #expect(r.status == status, "\(r)")
            #expect(VerifyText(r.stdout).threshold == "\(threshold) (--threshold)", "\(r)")
        }
    }

    // MARK: - eval

    @Test("eval --json of cosine scores: EER, min DCFs (checked by brute force), counts; no LLR-only keys")
    func evalCosine() throws {
        let ev = try EvaluationWorkspace.shared.get()
        let r = try spkv("eval", "--scores", ev.cosineScores, "--json")
        #expect(r.status == 0, "\(r)")
        #expect(r.stderr.isEmpty, "\(r)")
        #expect(r.stdoutLines.count == 1, "\(r)")
        let report = try EvalReport.parse(r)
        #expect(Set(report.keys) == EvalReport.commonKeys, "\(r)")
        let scores = try ScoresText(try String(contentsOfFile: ev.cosineScores, encoding: .utf8))
        try EvalReport.check(report, scores: scores, llr: false)

        let text = try spkv("eval", "--scores", ev.cosineScores)
        #expect(text.status == 0, "\(text)")
        #expect(text.stdout.contains("45 target, 200 non-target"), "\(text)")
        #expect(text.stdout.contains("(uncalibrated scores)"), "\(text)")
        #expect(!text.stdout.contains("Cllr") && !text.stdout.contains("actDCF"), "\(text)")
        #expect(text.stdout.contains(String(format: "EER:        %.3f %%", report["eer"] ?? .nan)), "\(text)")
    }

    @Test("eval --json of calibrated LLRs adds act DCF, Cllr (recomputed) and min Cllr; EER and min DCF equal the cosine run's")
    func evalLLR() throws {
        let ev = try EvaluationWorkspace.shared.get()
        let r = try spkv("eval", "--scores", ev.llrScores, "--json")
        #expect(r.status == 0, "\(r)")
        let report = try EvalReport.parse(r)
        #expect(Set(report.keys) == EvalReport.commonKeys.union(EvalReport.llrKeys), "\(r)")
        let scores = try ScoresText(try String(contentsOfFile: ev.llrScores, encoding: .utf8))
        #expect(scores.header.contains("kind=llr"))
        try EvalReport.check(report, scores: scores, llr: true)

        // A monotone increasing recalibration changes neither the EER nor the min DCFs.
        let cosine = try spkv("eval", "--scores", ev.cosineScores, "--json")
        let cosineReport = try EvalReport.parse(cosine)
        for key in ["eer", "min_dcf_01", "min_dcf_05", "targets", "nontargets"] {
            let a = try #require(report[key]), b = try #require(cosineReport[key])
            #expect(abs(a - b) <= 1e-12, "\(key): LLR \(a), cosine \(b)")
        }

        // --no-llr treats the same file as plain scores; --llr does the opposite for the cosine file.
        let plain = try spkv("eval", "--scores", ev.llrScores, "--json", "--no-llr")
        #expect(plain.status == 0, "\(plain)")
        let plainReport = try EvalReport.parse(plain)
        #expect(Set(plainReport.keys) == EvalReport.commonKeys, "\(plain)")
        let forced = try spkv("eval", "--scores", ev.cosineScores, "--json", "--llr")
        #expect(forced.status == 0, "\(forced)")
        let forcedReport = try EvalReport.parse(forced)
        #expect(Set(forcedReport.keys) == EvalReport.commonKeys.union(EvalReport.llrKeys), "\(forced)")

        let text = try spkv("eval", "--scores", ev.llrScores)
        #expect(text.stdout.contains("(log-likelihood ratios)"), "\(text)")
        #expect(text.stdout.contains("actDCF:") && text.stdout.contains("Cllr:"), "\(text)")
    }

    @Test("eval: labels from --trials for a label-free scores file give the same report; without --trials it is an error")
    func evalLabelsFromTrials() throws {
        let ev = try EvaluationWorkspace.shared.get()
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        // Strip the label column (keep the header).
        let lines = try String(contentsOfFile: ev.llrScores, encoding: .utf8).split(separator: "\n")
        let stripped = lines.map { line in line.hasPrefix("#") ? String(line) : line.split(separator: " ").prefix(3).joined(separator: " ") }
        #expect(stripped.dropFirst().allSatisfy { $0.split(separator: " ").count == 3 })
        let unlabeled = scratch.path("unlabeled.scores")
        try Data((stripped.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: unlabeled))

        let missing = try spkv("eval", "--scores", unlabeled, "--json")
        expectCleanFailure(missing, naming: unlabeled, containing: ["245 of 245 trials have no label", "--trials"])
        #expect(missing.stdout.isEmpty, "\(missing)")

        let labelled = try spkv("eval", "--scores", ev.llrScores, "--json")
        let viaTrials = try spkv("eval", "--scores", unlabeled, "--trials", Repo.sample("trials-eval.txt"), "--json")
        #expect(viaTrials.status == 0, "\(viaTrials)")
        #expect(viaTrials.stdout == labelled.stdout, "\(viaTrials)")

        // Trials that do not belong to the scores are refused.
        let wrong = try spkv("eval", "--scores", unlabeled, "--trials", Repo.sample("trials-calibration.txt"), "--json")
        #expect(wrong.status == 1, "\(wrong)")
        #expect(wrong.stderr.contains("not in the trial list"), "\(wrong)")
    }

    @Test("eval --plot DIR writes well-formed det.svg and scores.svg")
    func evalPlots() throws {
        let ev = try EvaluationWorkspace.shared.get()
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let folder = scratch.path("plots/nested")
        let r = try spkv("eval", "--scores", ev.llrScores, "--plot", folder)
        #expect(r.status == 0, "\(r)")
        for (name, title) in [("det", "DET curve"), ("scores", "Score distributions")] {
            let path = (folder as NSString).appendingPathComponent("\(name).svg")
            let svg = try String(contentsOfFile: path, encoding: .utf8)
            #expect(svg.contains("<svg"), "\(name).svg")
            #expect(svg.contains(title), "\(name).svg has no '\(title)'")
            #expect(svg.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("</svg>"), "\(name).svg")
            #if canImport(FoundationXML)
            let document = try XMLDocument(xmlString: svg, options: [])
            #expect(document.rootElement()?.name == "svg", "\(name).svg")
            #endif
            // PNG copies: rsvg-convert is a test prerequisite (librsvg2-bin), so the copy must be there.
            let png = (folder as NSString).appendingPathComponent("\(name).png")
            #expect(FileManager.default.fileExists(atPath: png), "no \(name).png: is librsvg2-bin installed? \(r)")
            if FileManager.default.fileExists(atPath: png) {
                #expect(try Data(contentsOf: URL(fileURLWithPath: png)).prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
            }
        }
    }

    @Test("eval of a scores file with only targets (or only non-targets) exits 1 with a clear message")
    func evalOneClass() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        for (label, missing) in [("target", "no non-target trials"), ("nontarget", "no target trials")] {
            let path = scratch.path("\(label).scores")
            try Data("# spkv-scores kind=cosine\na.wav b.wav 0.5 \(label)\na.wav c.wav 0.25 \(label)\na.wav d.wav 0.75 \(label)\n".utf8)
                .write(to: URL(fileURLWithPath: path))
            let r = try spkv("eval", "--scores", path, "--json")
            #expect(r.status == 1, "\(r)")
            #expect(r.stderr.hasPrefix("spkv: "), "\(r)")
            #expect(r.stderr.contains(missing), "\(r)")
            #expect(r.stdout.isEmpty, "\(r)")
        }
    }
}

// MARK: - Shared runs

/// The repository's shipped model and sample set, found from this source file's location.
enum Repo {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let model = root.appendingPathComponent("models/ecapa-c64-random-v1.safetensors").path
    static let samples = root.appendingPathComponent("models/samples/fotaq-joe").path
    static func sample(_ name: String) -> String { (samples as NSString).appendingPathComponent(name) }

    /// VoxCeleb lines `label enroll test` of a trial list of the sample set.
    static func trials(_ name: String) throws -> [(label: String, enroll: String, test: String)] {
        try String(contentsOfFile: sample(name), encoding: .utf8).split(separator: "\n").map { line -> (label: String, enroll: String, test: String) in
            let f = line.split(separator: " ").map(String.init)
            guard f.count == 3 else { throw SetupError(description: "\(name): unexpected line '\(line)'") }
            return (f[0], f[1], f[2])
        }
    }
}

struct SetupError: Error, CustomStringConvertible { let description: String }

/// The data CRC-32 that `spkv info --json` reports.
func infoDataCRC(_ path: String) throws -> String {
    let info = try spkv("info", "--json", path)
    guard info.status == 0, let crc = try JSONDecoder().decode([String: String].self, from: Data(info.stdout.utf8))["spkv.data_crc32"]
    else { throw SetupError(description: "no data CRC from \(info)") }
    return crc
}

/// The `__metadata__` of a safetensors file (read by hand: 8-byte length, JSON header).
func safetensorsMetadata(_ path: String) throws -> [String: String] {
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    guard bytes.count >= 8 else { throw SetupError(description: "\(path): too short") }
    let length = (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
    guard 8 + length <= bytes.count,
          let header = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + length)])) as? [String: Any]
    else { throw SetupError(description: "\(path): bad header") }
    return header["__metadata__"] as? [String: String] ?? [:]
}

/// Folder for the runs shared by the tests of one process, removed at exit.
enum SharedFolder {
    static let directory: TemporaryDirectory? = {
        let directory = try? TemporaryDirectory()
        atexit { SharedFolder.directory?.remove() }
        return directory
    }()

    static func require() throws -> TemporaryDirectory {
        guard let directory else { throw SetupError(description: "cannot create a temporary folder") }
        return directory
    }
}

/// A profile, the scores of `trials-calibration.txt` (with an embedding cache) and the model calibrated on them.
struct VerificationWorkspace: Sendable {
    static let enrollClips = ["joe_12001FJ1.flac", "joe_2800CDJ1.flac"]
    static let enrollSeconds = [2.821, 2.978]
    static let verifyClip = "joe_350021J1.flac"

    static let shared: Result<VerificationWorkspace, any Error> = Result { try VerificationWorkspace() }

    let folder: TemporaryDirectory
    let modelCRC: String
    let profile: String
    let enrollResult: CLIResult
    /// `score --threads 2 --embeddings cache -o calibration.scores` on trials-calibration.txt.
    let calibrationScores: String
    let scoreResult: CLIResult
    let cache: String
    let calibratedModel: String
    let calibrateResult: CLIResult
    let scale: Double
    let offset: Double
    /// trials-calibration.txt scored with the calibrated model (through a copy of the cache).
    let calibratedScores: String
    let calibratedScoreResult: CLIResult

    private init() throws {
        folder = try SharedFolder.require()
        guard FileManager.default.fileExists(atPath: Repo.model), FileManager.default.fileExists(atPath: Repo.sample("trials.txt")) else {
            throw SetupError(description: "no shipped model or sample set under \(Repo.root.path)")
        }
        modelCRC = try infoDataCRC(Repo.model)

        profile = folder.path("joe.json")
        enrollResult = try spkv(["enroll", "-m", Repo.model, "--name", "joe", "-o", profile] + Self.enrollClips.map(Repo.sample))
        guard enrollResult.status == 0 else { throw SetupError(description: "\(enrollResult)") }

        calibrationScores = folder.path("calibration.scores")
        cache = folder.path("cache.safetensors")
        scoreResult = try spkv("score", "-m", Repo.model, "--trials", Repo.sample("trials-calibration.txt"), "--audio-root", Repo.samples,
                               "--threads", "2", "--embeddings", cache, "-o", calibrationScores)
        guard scoreResult.status == 0 else { throw SetupError(description: "\(scoreResult)") }

        calibratedModel = folder.path("calibrated.safetensors")
        calibrateResult = try spkv("calibrate", "-m", Repo.model, "--scores", calibrationScores, "-o", calibratedModel)
        guard calibrateResult.status == 0 else { throw SetupError(description: "\(calibrateResult)") }
        // "calibration: llr = SCALE · score + OFFSET (prior …"
        let words = calibrateResult.stdout.split(separator: " ")
        guard words.count > 6, words[1] == "llr", let s = Double(words[3]), words[4] == "·", let o = Double(words[7]) else {
            throw SetupError(description: "cannot read scale and offset: \(calibrateResult)")
        }
        scale = s
        offset = o

        calibratedScores = folder.path("calibrated.scores")
        let cacheCopy = folder.path("cache-copy.safetensors")
        try FileManager.default.copyItem(atPath: cache, toPath: cacheCopy)
        calibratedScoreResult = try spkv("score", "-m", calibratedModel, "--trials", Repo.sample("trials-calibration.txt"),
                                         "--audio-root", Repo.samples, "--embeddings", cacheCopy, "-o", calibratedScores)
        guard calibratedScoreResult.status == 0 else { throw SetupError(description: "\(calibratedScoreResult)") }
    }
}

/// trials-eval.txt scored by the uncalibrated and the calibrated model (sharing one embedding cache).
struct EvaluationWorkspace: Sendable {
    static let shared: Result<EvaluationWorkspace, any Error> = Result { try EvaluationWorkspace() }

    let cosineScores: String
    let llrScores: String

    private init() throws {
        let calibration = try VerificationWorkspace.shared.get()
        let folder = calibration.folder
        let cache = folder.path("eval-cache.safetensors")
        cosineScores = folder.path("eval.scores")
        llrScores = folder.path("eval-llr.scores")
        for (model, out) in [(Repo.model, cosineScores), (calibration.calibratedModel, llrScores)] {
            let r = try spkv("score", "-m", model, "--trials", Repo.sample("trials-eval.txt"), "--audio-root", Repo.samples,
                             "--threads", "2", "--embeddings", cache, "-o", out)
            guard r.status == 0 else { throw SetupError(description: "\(r)") }
        }
    }
}

// MARK: - Output parsers

// JSON numbers are read with `JSONDecoder`: corelibs Foundation's `JSONSerialization` reads some doubles back
// off by an ulp or more (0.9656404256820679 → 0.9656404256820682), which would break exact comparisons.

/// `spkv verify --json`.
struct VerifyJSON: Decodable {
    var audio: String, speaker: String
    var cosine: Double, score: Double, threshold: Double
    var threshold_source: String, decision: String
    var llr: Double?

    init(_ r: CLIResult) throws { self = try JSONDecoder().decode(VerifyJSON.self, from: Data(r.stdout.utf8)) }
}

/// A profile file written by `spkv enroll`.
struct ProfileJSON: Decodable {
    struct Recording: Decodable { var path: String; var seconds: Double; var speech_seconds: Double }
    var format: String, version: Int, name: String, model_checksum: String, created: String, embedding_crc32: String
    var embedding: [Double]
    var recordings: [Recording]
}

/// The `spkv.scoring` metadata of a model.
struct ScoringJSON: Decodable { var kind: String; var scale: Double?; var offset: Double?; var prior: Double? }

/// The `name:   value` lines of `spkv verify`'s text output.
struct VerifyText {
    var fields: [String: String] = [:]
    init(_ stdout: String) {
        for line in stdout.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
    }
    var speaker: String? { fields["speaker"] }
    var score: String? { fields["score"] }
    var threshold: String? { fields["threshold"] }
    var decision: String? { fields["decision"] }
}

/// A `spkv score` output: the header line and `enroll test score [label]` lines.
struct ScoresText {
    struct Line: CustomStringConvertible {
        var enroll: String, test: String, scoreText: String, score: Double, label: String?
        var description: String { "\(enroll) \(test) \(scoreText) \(label ?? "")" }
    }
    var header: String
    var lines: [Line]

    init(_ text: String) throws {
        var all = text.split(separator: "\n", omittingEmptySubsequences: false)
        if all.last == "" { all.removeLast() }
        guard let first = all.first, first.hasPrefix("#") else { throw SetupError(description: "no header line: \(text.prefix(200))") }
        header = String(first)
        lines = try all.dropFirst().map { line in
            let f = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 3 || f.count == 4, let score = Double(f[2]) else { throw SetupError(description: "bad score line '\(line)'") }
            return Line(enroll: f[0], test: f[1], scoreText: f[2], score: score, label: f.count == 4 ? f[3] : nil)
        }
    }

    var targets: [Double] { lines.filter { $0.label == "target" }.map(\.score) }
    var nontargets: [Double] { lines.filter { $0.label == "nontarget" }.map(\.score) }
}

// MARK: - Independent metric checks

/// `spkv eval --json` reports checked against metrics recomputed here by brute force from the scores file.
enum EvalReport {
    static let commonKeys: Set<String> = ["eer", "eer_threshold", "min_dcf_01", "min_dcf_05", "min_dcf_01_threshold",
                                          "min_dcf_05_threshold", "targets", "nontargets"]
    static let llrKeys: Set<String> = ["act_dcf_01", "act_dcf_05", "cllr", "min_cllr"]

    /// Normalised DCF (C_miss = C_fa = 1) when accepting score ≥ threshold.
    static func dcf(_ tar: [Double], _ non: [Double], prior p: Double, threshold: Double) -> Double {
        let pMiss = Double(tar.filter { $0 < threshold }.count) / Double(tar.count)
        let pFa = Double(non.filter { $0 >= threshold }.count) / Double(non.count)
        return (p * pMiss + (1 - p) * pFa) / min(p, 1 - p)
    }

    /// Every operating point: each distinct score as threshold, plus reject-all.
    static func thresholds(_ tar: [Double], _ non: [Double]) -> [Double] {
        Array(Set(tar + non)).sorted() + [.infinity]
    }

    static func minDCF(_ tar: [Double], _ non: [Double], prior: Double) -> Double {
        thresholds(tar, non).map { dcf(tar, non, prior: prior, threshold: $0) }.min()!
    }

    /// The EER as the report defines it: walking thresholds downwards from reject-all, the first point where
    /// P_miss ≤ P_fa, linearly interpolated with the point before it.
    static func eer(_ tar: [Double], _ non: [Double]) -> Double {
        let points = thresholds(tar, non).reversed().map { t -> (miss: Double, fa: Double) in
            (Double(tar.filter { $0 < t }.count) / Double(tar.count), Double(non.filter { $0 >= t }.count) / Double(non.count))
        }
        let i = points.firstIndex { $0.miss <= $0.fa }!
        let (a, b) = (points[i - 1], points[i])
        let (da, db) = (a.miss - a.fa, b.miss - b.fa)
        let t = da / (da - db)
        return a.fa + t * (b.fa - a.fa)
    }

    static func softplus(_ x: Double) -> Double { max(x, 0) + log1p(exp(-abs(x))) }

    static func cllr(_ tar: [Double], _ non: [Double]) -> Double {
        let t = tar.map { softplus(-$0) }.reduce(0, +) / Double(tar.count)
        let n = non.map { softplus($0) }.reduce(0, +) / Double(non.count)
        return (t + n) / (2 * log(2))
    }

    /// The JSON object of `spkv eval --json` (all values are numbers for finite thresholds). Read with
    /// `JSONDecoder`: corelibs Foundation's `JSONSerialization` does not read doubles back exactly.
    static func parse(_ r: CLIResult, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Double] {
        try #require(r.status == 0, "\(r)", sourceLocation: sourceLocation)
        return try JSONDecoder().decode([String: Double].self, from: Data(r.stdout.utf8))
    }

    static func check(_ report: [String: Double], scores: ScoresText, llr: Bool,
                      sourceLocation: SourceLocation = #_sourceLocation) throws {
        func value(_ key: String) throws -> Double {
            try #require(report[key], "\(key) missing: \(report)", sourceLocation: sourceLocation)
        }
        let tar = scores.targets, non = scores.nontargets
        #expect(try value("targets") == 45, sourceLocation: sourceLocation)
        #expect(try value("nontargets") == 200, sourceLocation: sourceLocation)
        #expect(tar.count == 45 && non.count == 200, sourceLocation: sourceLocation)

        let eer = try value("eer")
        #expect(eer >= 0 && eer <= 100, "\(eer)", sourceLocation: sourceLocation)
        #expect(abs(eer - 100 * Self.eer(tar, non)) <= 1e-9, "EER \(eer) %, recomputed \(100 * Self.eer(tar, non)) %",
                sourceLocation: sourceLocation)
        for (key, prior) in [("min_dcf_01", 0.01), ("min_dcf_05", 0.05)] {
            let reported = try value(key), expected = minDCF(tar, non, prior: prior)
            #expect(reported >= 0 && reported <= 1 + 1e-12, "\(key) = \(reported)", sourceLocation: sourceLocation)
            #expect(abs(reported - expected) <= 1e-12, "\(key) = \(reported), brute force \(expected)", sourceLocation: sourceLocation)
            // Its threshold reaches it.
            let threshold = try value(key + "_threshold")
            #expect(abs(dcf(tar, non, prior: prior, threshold: threshold) - reported) <= 1e-12, "\(key) threshold \(threshold)",
                    sourceLocation: sourceLocation)
        }
        guard llr else { return }
        for (key, prior) in [("act_dcf_01", 0.01), ("act_dcf_05", 0.05)] {
            let reported = try value(key), expected = dcf(tar, non, prior: prior, threshold: log((1 - prior) / prior))
            #expect(abs(reported - expected) <= 1e-12, "\(key) = \(reported), recomputed \(expected)", sourceLocation: sourceLocation)
            #expect(reported >= (try value(key.replacingOccurrences(of: "act", with: "min"))) - 1e-12, sourceLocation: sourceLocation)
        }
        let cllr = try value("cllr"), minCllr = try value("min_cllr")
        #expect(abs(cllr - Self.cllr(tar, non)) <= 1e-9 * max(1, cllr), "Cllr \(cllr), recomputed \(Self.cllr(tar, non))",
                sourceLocation: sourceLocation)
        #expect(minCllr >= 0 && minCllr <= 1 + 1e-12, "min Cllr \(minCllr)", sourceLocation: sourceLocation)
        #expect(minCllr <= cllr + 1e-12, "min Cllr \(minCllr) > Cllr \(cllr)", sourceLocation: sourceLocation)
    }
}
