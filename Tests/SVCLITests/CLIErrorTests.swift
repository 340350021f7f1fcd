import Foundation
import SpeakerVerification
import Testing
import _SVTestSupport

/// Bad input files: every command that reads them exits 1 with one clean `spkv: …` message that
/// names the file — never a crash, a stack trace or a Foundation error dump.
@Suite("spkv errors")
struct CLIErrorTests {
    /// Ways a model file can be broken, made from a freshly imported model.
    enum ModelDamage: String, CaseIterable, CustomTestStringConvertible {
        case missing, truncated, flippedDataByte
        var testDescription: String { rawValue }

        /// Words the message must contain (case-insensitive), besides the path.
        var words: [String] {
            switch self {
            case .missing: return ["cannot open"]
            case .truncated: return ["truncated"]
            case .flippedDataByte: return ["corrupt", "CRC"]
            }
        }

        /// Writes the damaged file next to `model` and returns its path.
        func make(from model: ImportedModel) throws -> String {
            let path = model.folder.path("\(rawValue).safetensors")
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: model.path)))
            switch self {
            case .missing: return path
            case .truncated: bytes = Array(bytes.prefix(1000))
            case .flippedDataByte:
                // One byte in the middle of the tensor data (the header and its CRC stay intact).
                let headerLength = (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
                let dataStart = 8 + headerLength
                bytes[dataStart + (bytes.count - dataStart) / 2] ^= 0x01
            }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return path
        }
    }

    /// The cache has this model's checksum but rows of another length. Every trial file is cached, so
    /// nothing new is embedded or written; the AS-norm cohort (model-size `spkv embed` lines) is then
    /// compared with the cached rows, which used to trap in the cosine's length check.
    @Test("score --embeddings with a cache of this model but another embedding size exits 1 naming the cache")
    func scoreWithAWrongSizeEmbeddingCache() throws {
        let model = try ImportedModel()
        defer { model.remove() }
        let loaded = try SpeakerModel.load(path: model.path)
        var cache = EmbeddingCache(modelChecksum: loaded.checksum)
        for clip in CLIFixtures.speechFiles {
            cache[try #require(EmbeddingCache.Key.current(path: clip))] = [Float](repeating: 0.1, count: loaded.embeddingSize + 3)
        }
        let cachePath = model.folder.path("cache.safetensors")
        try cache.write(path: cachePath)
        let trials = model.folder.path("trials.txt"), cohort = model.folder.path("cohort.txt")
        try Data("1 \(CLIFixtures.speechFiles[0]) \(CLIFixtures.speechFiles[1])\n".utf8).write(to: URL(fileURLWithPath: trials))
        let cohortLines = (0..<3).map { i in "c\(i) " + (0..<loaded.embeddingSize).map { "\(Float(($0 + i) % 5) - 2)" }.joined(separator: " ") }
        try Data((cohortLines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: cohort))
        let r = try spkv("score", "-m", model.path, "--trials", trials, "--embeddings", cachePath, "--cohort", cohort, "--top-n", "2")
        expectCleanFailure(r, naming: cachePath, containing: ["dimension", "delete"])
        #expect(r.stdout.isEmpty, "\(r)")
    }

    @Test("a missing, truncated or corrupted model file is reported by every command that loads one",
          arguments: ModelDamage.allCases)
    func damagedModel(_ damage: ModelDamage) throws {
        let model = try ImportedModel()
        defer { model.remove() }
        let bad = try damage.make(from: model)
        let clip = CLIFixtures.speech("speech_a_3s")
        let npy = model.folder.path("f.npy")
        let commands: [[String]] = [
            ["info", bad],
            ["embed", "-m", bad, clip],
            ["features", "--model", bad, clip, "-o", npy],
            ["bench", "-m", bad, "--seconds", "1", "--repeats", "1"],
        ]
        for arguments in commands {
            let r = try spkv(arguments)
            expectCleanFailure(r, naming: bad, containing: damage.words)
            #expect(r.stdout.isEmpty, "\(r)")
            #expect(r.stderr.split(separator: "\n").count == 1, "one message expected: \(r)")
        }
        #expect(!FileManager.default.fileExists(atPath: npy))
    }

    @Test("embed reports a non-audio file and still prints the other files, in order")
    func nonAudioAmongGoodFiles() throws {
        let model = try ImportedModel()
        defer { model.remove() }
        let text = model.folder.path("notes.wav")
        try Data("this is not audio\n".utf8).write(to: URL(fileURLWithPath: text))
        let a = CLIFixtures.speech("speech_a_3s"), b = CLIFixtures.speech("speech_b_8s")
        let r = try spkv("embed", "-m", model.path, "--threads", "2", a, text, b)
        expectCleanFailure(r, naming: text)
        #expect(r.stdoutLines.map { parseEmbeddingLine($0).path } == [a, b], "\(r)")
        #expect(r.stdoutLines.allSatisfy { parseEmbeddingLine($0).values.count == CLICommandTests.fixtureEmbeddingSize })
        let messages = r.stderr.split(separator: "\n")
        #expect(messages.allSatisfy { $0.hasPrefix("spkv: ") }, "\(r)")
        #expect(!messages.contains { $0.contains(a) || $0.contains(b) }, "a good file was reported: \(r)")
        #expect(r.stderr.contains("1 of 3 files failed"), "\(r)")

        // The good files' lines are exactly what a clean run prints.
        let clean = try spkv("embed", "-m", model.path, a, b)
        #expect(clean.status == 0, "\(clean)")
        #expect(r.stdout == clean.stdout)
    }

    @Test("embed rejects a WAV with no frames and one with 100 samples (too short)")
    func emptyAndTooShortAudio() throws {
        let model = try ImportedModel()
        defer { model.remove() }
        let empty = model.folder.path("empty.wav"), short = model.folder.path("short.wav")
        let emptyBytes = AudioTestSignals.wavBytes(formatTag: 1, channels: 1, sampleRate: 16_000, bitsPerSample: 16, data: [])
        try #require(emptyBytes.count == 44)
        try Data(emptyBytes).write(to: URL(fileURLWithPath: empty))
        let samples = AudioTestSignals.tone(frequency: 440, sampleRate: 16_000, count: 100, amplitude: 0.3).flatMap { x -> [UInt8] in
            let v = UInt16(bitPattern: Int16(x * 32767)); return [UInt8(v & 0xFF), UInt8(v >> 8)]
        }
        try #require(samples.count == 200)
        try Data(AudioTestSignals.wavBytes(formatTag: 1, channels: 1, sampleRate: 16_000, bitsPerSample: 16, data: samples))
            .write(to: URL(fileURLWithPath: short))

        for (file, words) in [(empty, ["no audio samples"]), (short, ["too short"])] {
            let r = try spkv("embed", "-m", model.path, file)
            expectCleanFailure(r, naming: file, containing: words)
            #expect(r.stdout.isEmpty, "\(r)")
        }
    }

    @Test("import with the wrong --from names the checkpoint, hints at --from and writes nothing")
    func wrongToolkit() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let out = scratch.path("m.safetensors")
        // WeSpeaker names its layers differently: the encoder is not found at all.
        let wespeaker = try spkv("import", "--from", "wespeaker", CLIFixtures.speechbrainCheckpoint, "-o", out)
        expectCleanFailure(wespeaker, naming: CLIFixtures.speechbrainCheckpoint,
                           containing: ["no wespeaker ECAPA-TDNN found", "Is --from right?"])
        #expect(wespeaker.stdout.isEmpty, "\(wespeaker)")
        // sslsv shares SpeechBrain's block names; the tensor table check then names the tensors that differ.
        let sslsv = try spkv("import", "--from", "sslsv", CLIFixtures.speechbrainCheckpoint, "-o", out)
        expectCleanFailure(sslsv, naming: CLIFixtures.speechbrainCheckpoint,
                           containing: ["does not match", "missing asp_bn.norm.weight", "unexpected asp_bn.norm.norm.weight"])
        #expect(sslsv.stdout.isEmpty, "\(sslsv)")
        #expect(!FileManager.default.fileExists(atPath: out))
        let unknown = try spkv("import", "--from", "kaldi", CLIFixtures.speechbrainCheckpoint, "-o", out)
        #expect(unknown.status == 64, "\(unknown)")
        #expect(["speechbrain", "wespeaker", "sslsv"].allSatisfy { unknown.stderr.contains($0) }, "\(unknown)")
    }
}
