import Foundation
/// Synthesis engines the corpus can call.
public enum SynthEngine: String, Codable, Sendable, CaseIterable {
    case espeakNG = "espeak-ng"
    case flite

    /// The program and the Debian package that provides it.
    public var program: String { self == .espeakNG ? "espeak-ng" : "flite" }
    public var aptPackage: String { self == .espeakNG ? "espeak-ng" : "flite" }
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

/// A speaker: an engine and its voice parameters.
public struct SpeakerVoice: Codable, Equatable, Sendable {
    public var engine: SynthEngine
    public var espeak: EspeakVoice?
    public var flite: FliteVoice?

    /// The language of the speaker's text.
    public var language: String { espeak?.language ?? "en-us" }
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

