import Foundation
import Testing
import _SVTestSupport

/// `spkv quantize`: post-training int8 quantisation from the command line, then the int8 model in use.
@Suite("spkv quantize")
struct CLIQuantizeTests {
    @Test("quantize an imported SpeechBrain model; info shows the scheme; int8 embeddings stay close to fp32")
    func quantizeThenUse() throws {
        let model = try ImportedModel()
        defer { model.remove() }
        let dir = model.folder
        // A list with a comment, a blank line and a path relative to the list's folder.
        try FileManager.default.copyItem(atPath: CLIFixtures.speech("speech_b_8s"), toPath: dir.path("b.wav"))
        try "# calibration audio\n\(CLIFixtures.speech("speech_a_3s"))\n\nb.wav\n".write(toFile: dir.path("calib.txt"), atomically: true, encoding: .utf8)
        let q = try spkv("quantize", model.path, "--calibration", dir.path("calib.txt"), "-o", dir.path("q.safetensors"))
        #expect(q.status == 0 && q.stdout.contains("calibrated on 2 files") && q.stdout.contains("mfa.conv.conv"), "\(q)")
        let agreement = try #require(q.stdoutLines.first { $0.hasPrefix("int8 vs fp32 embeddings") }, "\(q)")
        let mean = Double(agreement.components(separatedBy: "cosine mean ")[1].prefix(7)) ?? 0
        #expect(mean > 0.99 && mean <= 1, "\(agreement)")

        let info = try spkv("info", dir.path("q.safetensors"))
        #expect(info.status == 0 && info.stdout.contains("int8-static"), "\(info)")

        let clip = CLIFixtures.speech("speech_c_15s")
        let fp32 = try spkv("embed", "-m", model.path, clip), int8 = try spkv("embed", "-m", dir.path("q.safetensors"), clip)
        let a = parseEmbeddingLine(try #require(fp32.stdoutLines.first)).values.compactMap { $0 }
        let b = parseEmbeddingLine(try #require(int8.stdoutLines.first)).values.compactMap { $0 }
        try #require(a.count == CLICommandTests.fixtureEmbeddingSize && b.count == a.count)
        #expect(cosineSimilarity(a, b) > 0.995, "cosine \(cosineSimilarity(a, b))")

        // Refusals: quantising the int8 model again; a list naming a missing file; an unknown method.
        let again = try spkv("quantize", dir.path("q.safetensors"), "--calibration", dir.path("calib.txt"), "-o", dir.path("qq.safetensors"))
        expectCleanFailure(again, naming: "already quantised")
        try "\(dir.path("nothere.wav"))\n".write(toFile: dir.path("bad.txt"), atomically: true, encoding: .utf8)
        let missing = try spkv("quantize", model.path, "--calibration", dir.path("bad.txt"), "-o", dir.path("x.safetensors"))
        expectCleanFailure(missing, naming: "bad.txt", containing: ["do not exist", "nothere.wav"])
        #expect(!FileManager.default.fileExists(atPath: dir.path("x.safetensors")))
        let method = try spkv("quantize", model.path, "--calibration", dir.path("calib.txt"), "--method", "guess", "-o", dir.path("x.safetensors"))
        #expect(method.status != 0 && method.stderr.contains("--method"))
    }

    @Test("--save-scales then --scales gives the same file without audio; bad scales files and option mixes are refused")
    func scalesFileRoundTrip() throws {
        let model = try ImportedModel()
        defer { model.remove() }
        let dir = model.folder
        try "\(CLIFixtures.speech("speech_a_3s"))\n".write(toFile: dir.path("calib.txt"), atomically: true, encoding: .utf8)
        let measured = try spkv("quantize", model.path, "--calibration", dir.path("calib.txt"), "--save-scales", dir.path("s.json"),
                                "-o", dir.path("a.safetensors"))
        #expect(measured.status == 0, "\(measured)")
        let reused = try spkv("quantize", model.path, "--scales", dir.path("s.json"), "-o", dir.path("b.safetensors"))
        #expect(reused.status == 0 && reused.stdout.contains("scales measured on 1 files"), "\(reused)")
        #expect(FileManager.default.contents(atPath: dir.path("a.safetensors")) == FileManager.default.contents(atPath: dir.path("b.safetensors")),
                "the file quantised from the scales file is the calibrated one, byte for byte")
        // A scale that is not positive, and a file that is not a scales file, are named.
        let text = try String(contentsOfFile: dir.path("s.json"), encoding: .utf8)
        let first = try #require(text.range(of: #"" : 0\.\d+"#, options: .regularExpression))
        try text.replacingCharacters(in: first, with: "\" : -1").write(toFile: dir.path("neg.json"), atomically: true, encoding: .utf8)
        expectCleanFailure(try spkv("quantize", model.path, "--scales", dir.path("neg.json"), "-o", dir.path("x.safetensors")),
                           naming: "neg.json", containing: ["not a positive finite number"])
        try "{}".write(toFile: dir.path("empty.json"), atomically: true, encoding: .utf8)
        expectCleanFailure(try spkv("quantize", model.path, "--scales", dir.path("empty.json"), "-o", dir.path("x.safetensors")),
                           naming: "empty.json", containing: ["not a scales file"])
        #expect(!FileManager.default.fileExists(atPath: dir.path("x.safetensors")))
        // Exactly one of --calibration and --scales.
        let both = try spkv("quantize", model.path, "--calibration", dir.path("calib.txt"), "--scales", dir.path("s.json"), "-o", dir.path("x.safetensors"))
        let neither = try spkv("quantize", model.path, "-o", dir.path("x.safetensors"))
        #expect(both.status == 64 && neither.status == 64 && both.stderr.contains("exactly one"), "\(both)\n\(neither)")
    }
}
