import Foundation
import Testing
import _SVTestSupport

/// `spkv import`, `info`, `embed`, `features`, `bench` and `--help`, run as the built executable.
@Suite("spkv commands")
struct CLICommandTests {
    /// Parameters of the SpeechBrain fixture `ECAPA_TDNN(80, [64,64,64,64,192], lin_neurons=32)`.
    static let fixtureParameterCount = 125_496
    static let fixtureEmbeddingSize = 32
    /// Golden (SpeechBrain's own pipeline) vs spkv on real speech.
    static let goldenCosine = 0.9999

    // MARK: - import + info

    @Test("import a SpeechBrain checkpoint, then info shows its parameters, channels, checksum and version")
    func importThenInfo() throws {
        let model = try ImportedModel()
        defer { model.remove() }
        let imported = model.importResult
        #expect(imported.stderr.isEmpty, "\(imported)")
        #expect(imported.stdout.contains("channels 64/64/64/64/192"), "\(imported)")
        #expect(imported.stdout.contains("\(Self.fixtureParameterCount) parameters"), "\(imported)")

        let json = try spkv("info", "--json", model.path)
        #expect(json.status == 0, "\(json)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], "\(json)")
        let crc = try #require(object["spkv.data_crc32"] as? String, "\(json)")
        let version = try #require(object["spkv.format_version"] as? String, "\(json)")
        #expect(object["spkv.format"] as? String == "spkv-model")
        #expect(object["spkv.architecture"] as? String == "ecapa-tdnn")
        #expect(version == "1")
        // The checksum is zlib's CRC-32 of the data section, recomputed here independently.
        #expect(crc == String(format: "%08x", try dataSectionCRC32(path: model.path)))
        #expect(imported.stdout.contains("wrote \(model.path) (data CRC-32 \(crc))"), "\(imported)")

        let info = try spkv("info", model.path)
        #expect(info.status == 0, "\(info)")
        #expect(info.stderr.isEmpty, "\(info)")
        let fields = Dictionary(info.stdoutLines.compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }, uniquingKeysWith: { a, _ in a })
        #expect(fields["model"] == model.path)
        #expect(fields["parameters"] == "\(Self.fixtureParameterCount)")
        #expect(fields["channels"]?.hasPrefix("64/64/64/64/192, kernels 5/3/3/3/1, dilations 1/2/3/4/1") == true, "\(info)")
        #expect(fields["embedding"] == "\(Self.fixtureEmbeddingSize) dimensions")
        let format = try #require(fields["format"], "\(info)")
        #expect(format.hasPrefix("spkv-model v\(version), "), "\(info)")
        #expect(format.hasSuffix("data CRC-32 \(crc)"), "\(info)")
        let size = try #require(try FileManager.default.attributesOfItem(atPath: model.path)[.size] as? Int)
        #expect(format.contains(", \(size) bytes,"), "\(info)")
    }

    // MARK: - embed

    @Test("embed prints PATH + 32 finite values per file, in input order, the same with --threads 2")
    func embedLinesOrderAndThreads() throws {
        let model = try ImportedModel()
        defer { model.remove() }
        // Not in sorted order, so that input order is really what is being checked.
        let files = [CLIFixtures.speech("speech_c_15s"), CLIFixtures.speech("speech_a_3s"), CLIFixtures.speech("speech_b_8s")]
        let one = try spkv(["embed", "-m", model.path, "--threads", "1"] + files)
        #expect(one.status == 0, "\(one)")
        #expect(one.stderr.isEmpty, "\(one)")
        #expect(one.stdout.hasSuffix("\n"))
        let lines = one.stdoutLines
        try #require(lines.count == files.count, "\(one)")
        for (line, file) in zip(lines, files) {
            #expect(line.split(separator: " ", omittingEmptySubsequences: false).count == 1 + Self.fixtureEmbeddingSize)
            let (path, values) = parseEmbeddingLine(line)
            #expect(path == file)
            #expect(values.count == Self.fixtureEmbeddingSize)
            #expect(values.allSatisfy { $0?.isFinite == true }, "unparsable or non-finite value in \(line)")
        }
        // Different speakers' clips give different embeddings (not a constant output).
        #expect(Set(lines.map { $0.split(separator: " ").dropFirst().joined(separator: " ") }).count == files.count)

        let two = try spkv(["embed", "-m", model.path, "--threads", "2"] + files)
        #expect(two.status == 0, "\(two)")
        #expect(two.stdout == one.stdout, "--threads 2 output differs from --threads 1")
    }

    @Test("embed of speech_a equals SpeechBrain's own embedding (golden fixture) and the same clip's line in a batch")
    func embedMatchesGolden() throws {
        let model = try ImportedModel()
        defer { model.remove() }
        let clip = CLIFixtures.speech("speech_a_3s")
        let r = try spkv("embed", "-m", model.path, clip)
        #expect(r.status == 0, "\(r)")
        let line = try #require(r.stdoutLines.first, "\(r)")
        let values = parseEmbeddingLine(line).values.compactMap { $0 }
        let golden = try #require(try SafeTensorsFixture(path: CLIFixtures.speechbrainGolden)["speech_a_3s/embedding"]).floats
        try #require(values.count == golden.count)
        let cosine = cosineSimilarity(values, golden)
        #expect(cosine >= Self.goldenCosine, "cosine \(cosine), max |Δ| \(maxAbsDifference(values, golden))")

        // A clip's embedding does not depend on the other files of the run.
        let batch = try spkv(["embed", "-m", model.path, "--threads", "2"] + CLIFixtures.speechFiles)
        #expect(batch.status == 0, "\(batch)")
        #expect(batch.stdoutLines.first == line)
    }

    @Test("embed --output writes the stdout text to a new or existing file, prints nothing, leaves no temporary file")
    func embedToFile() throws {
        let model = try ImportedModel()
        defer { model.remove() }
        let clip = CLIFixtures.speech("speech_a_3s")
        let toStdout = try spkv("embed", "-m", model.path, clip)
        try #require(toStdout.status == 0, "\(toStdout)")
        let newFile = model.folder.path("new.txt"), existing = model.folder.path("existing.txt")
        try Data("old contents\n".utf8).write(to: URL(fileURLWithPath: existing))
        for outFile in [newFile, existing] {
            let toFile = try spkv("embed", "-m", model.path, "--output", outFile, clip)
            #expect(toFile.status == 0, "\(toFile)")
            #expect(toFile.stdout.isEmpty, "\(toFile)")
            #expect(toFile.stderr.isEmpty, "\(toFile)")
            #expect(try String(contentsOfFile: outFile, encoding: .utf8) == toStdout.stdout)
        }
        // No temporary file is left beside the output.
        let left = try FileManager.default.contentsOfDirectory(atPath: model.folder.url.path)
        #expect(!left.contains { $0.contains(".tmp-") }, "\(left)")
    }

    // MARK: - features

    @Test("features writes a float32 .npy of (1 + samples/160, 80) for the model's front end, (358, 80) for kaldi")
    func featuresNpy() throws {
        let model = try ImportedModel()
        defer { model.remove() }
        let clip = CLIFixtures.speech("speech_a_3s")
        let samples = 57_571   // speech_a_3s.wav (Fixtures/speech/README.md)
        for (index, (source, frames)) in [(["--model", model.path], 1 + samples / 160), (["--front-end", "kaldi"], 358)].enumerated() {
            let out = model.folder.path("f\(index).npy")
            let r = try spkv(["features"] + source + [clip, "-o", out])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout.isEmpty && r.stderr.isEmpty, "\(r)")
            let npy = try NPYFile(path: out)
            #expect(npy.descr == "<f4")
            #expect(!npy.fortranOrder)
            #expect(npy.shape == [frames, 80], "\(source)")
            #expect(npy.values.count == frames * 80)
            #expect(npy.values.allSatisfy { $0.isFinite })
            // Per-utterance mean normalisation: every mel's mean over time is ~0.
            let worstMean = (0..<80).map { m in
                abs(stride(from: m, to: npy.values.count, by: 80).reduce(0.0) { $0 + Double(npy.values[$1]) } / Double(frames))
            }.max() ?? .infinity
            #expect(worstMean < 1e-3, "\(source): largest per-mel mean \(worstMean)")
        }
        #expect(1 + samples / 160 == 360)
    }

    @Test("features: an unknown --front-end, or both/neither of --model and --front-end, is a usage error (64)")
    func featuresUsageErrors() throws {
        let clip = CLIFixtures.speech("speech_a_3s")
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let out = scratch.path("f.npy")
        let unknown = try spkv("features", "--front-end", "nonsense", clip, "-o", out)
        #expect(unknown.status == 64, "\(unknown)")
        #expect(unknown.stderr.contains("nonsense"), "\(unknown)")
        for name in ["sslsv-40", "sslsv-80", "speechbrain", "kaldi"] {
            #expect(unknown.stderr.contains(name), "valid front end \(name) not listed: \(unknown)")
        }
        let both = try spkv("features", "--model", CLIFixtures.speechbrainCheckpoint, "--front-end", "kaldi", clip, "-o", out)
        #expect(both.status == 64, "\(both)")
        #expect(both.stderr.contains("--model") && both.stderr.contains("--front-end"), "\(both)")
        let neither = try spkv("features", clip, "-o", out)
        #expect(neither.status == 64, "\(neither)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    // MARK: - bench

    @Test("bench --json prints one JSON object with positive stage times and real-time factor")
    func benchJSON() throws {
        let model = try ImportedModel()
        defer { model.remove() }
        let r = try spkv("bench", "-m", model.path, "--seconds", "1", "--repeats", "2", "--json")
        #expect(r.status == 0, "\(r)")
        #expect(r.stdoutLines.count == 1, "\(r)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r)")
        for key in ["features_ms", "encoder_ms", "total_ms", "realtime_factor"] {
            let value = try #require(object[key] as? NSNumber, "\(key) missing or not a number: \(r)")
            #expect(value.doubleValue > 0 && value.doubleValue.isFinite, "\(key) = \(value)")
        }
        #expect((object["repeats"] as? NSNumber)?.intValue == 2)
    }

    // MARK: - help

    @Test("--help lists the subcommands; embed --help documents its options")
    func help() throws {
        let top = try spkv("--help")
        #expect(top.status == 0, "\(top)")
        #expect(top.stdout.contains("USAGE: spkv <subcommand>"), "\(top)")
        let subcommands = top.stdout.components(separatedBy: "SUBCOMMANDS:").last ?? ""
        for name in ["embed", "enroll", "verify", "score", "eval", "calibrate", "info", "features", "import", "bench"] {
            #expect(subcommands.split(separator: "\n").contains { $0.trimmingCharacters(in: .whitespaces).hasPrefix(name + " ") },
                    "subcommand \(name) not listed: \(top)")
        }
        let words = top.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(words.contains("0 success (verify: accept), 2 verify: reject, 1 error"), "exit codes not documented: \(top)")
        #expect(words.contains("64 usage error"), "exit codes not documented: \(top)")

        let embed = try spkv("embed", "--help")
        #expect(embed.status == 0, "\(embed)")
        #expect(embed.stdout.contains("USAGE: spkv embed --model <model>"), "\(embed)")
        for option in ["--threads <threads>", "-o, --output <output>", "-m, --model <model>", "<audio> ..."] {
            #expect(embed.stdout.contains(option), "\(option) missing: \(embed)")
        }

        let unknown = try spkv("frobnicate")
        #expect(unknown.status == 64, "\(unknown)")
    }
}

/// zlib's CRC-32 (reflected, polynomial 0xEDB88320) of a safetensors file's data section.
func dataSectionCRC32(path: String) throws -> UInt32 {
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    let headerLength = (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
    let table: [UInt32] = (0..<256).map { n in
        (0..<8).reduce(UInt32(n)) { c, _ in c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    }
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes[(8 + headerLength)...] { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
    return crc ^ 0xFFFF_FFFF
}
