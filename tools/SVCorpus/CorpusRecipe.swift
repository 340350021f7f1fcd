import Foundation

/// Which part of the corpus a speaker belongs to. Dev speakers are drawn from their own seed streams,
/// so no dev voice is ever a training voice.
public enum CorpusSplit: String, Codable, Sendable {
    case train, dev
    var code: Int { self == .train ? 0 : 1 }
}

/// The options that define a synthetic corpus; the same options give the same corpus.
public struct CorpusOptions: Codable, Equatable, Sendable {
    public var speakers: Int
    public var devSpeakers: Int
    public var recordings: Int
    public var utterances: Int
    public var seed: UInt64
    public var engines: [SynthEngine]
    public var nonTargetsPerUtterance: Int
    /// Share of "mild" recordings (no codec, SNR ≥ 20 dB), CORPUS.md §2.4's remedy when same- and
    /// cross-recording targets are too far apart; nil means 0 and leaves every other draw unchanged.
    public var mildFraction: Double?

    public init(speakers: Int, devSpeakers: Int, recordings: Int, utterances: Int, seed: UInt64,
                engines: [SynthEngine] = [.espeakNG, .flite], nonTargetsPerUtterance: Int = 8, mildFraction: Double? = nil) {
        self.speakers = speakers; self.devSpeakers = devSpeakers; self.recordings = recordings
        self.utterances = utterances; self.seed = seed; self.engines = engines
        self.nonTargetsPerUtterance = nonTargetsPerUtterance
        self.mildFraction = mildFraction
    }

    public func validate() throws(CorpusError) {
        guard speakers >= 1 else { throw .invalidRecipe("--speakers must be at least 1 (got \(speakers))") }
        guard devSpeakers >= 0 else { throw .invalidRecipe("--dev-speakers must be 0 or more (got \(devSpeakers))") }
        guard devSpeakers == 0 || devSpeakers >= 2 else {
            throw .invalidRecipe("--dev-speakers must be 0 or at least 2 so that trials have non-targets (got \(devSpeakers))")
        }
        guard recordings >= 1, recordings <= 99 else { throw .invalidRecipe("--recordings must be 1...99 (got \(recordings))") }
        guard devSpeakers == 0 || recordings >= 2 else {
            throw .invalidRecipe("--recordings must be at least 2 for cross-recording dev trials (got \(recordings))")
        }
        guard utterances >= 1, utterances <= 9999 else { throw .invalidRecipe("--utterances must be 1...9999 (got \(utterances))") }
        if let m = mildFraction, !(0...1).contains(m) { throw .invalidRecipe("--mild-fraction must be in 0...1 (got \(m))") }
        guard !engines.isEmpty else { throw .invalidRecipe("--engines must name at least one engine") }
        if !engines.contains(.espeakNG) {
            // Without espeak-ng every speaker comes from a capped base voice (English bases only here).
            let capacity = engines.reduce(0) { $0 + CorpusRecipe.capacity(of: $1, languages: EspeakVoice.englishVariants) }
            guard max(speakers, devSpeakers) <= capacity else {
                throw .invalidRecipe("--engines \(engines.map(\.rawValue).joined(separator: ",")) make at most \(capacity) "
                    + "speakers per split (capped per English base voice); add espeak-ng or ask for fewer speakers (got \(max(speakers, devSpeakers)))")
            }
        }
    }
}

/// A speaker of the plan.
public struct SpeakerPlan: Codable, Equatable, Sendable {
    public var id: String
    public var split: CorpusSplit
    public var index: Int
    public var voice: SpeakerVoice
}

/// A recording of the plan: the session jitter and the channel, shared by its utterances.
public struct RecordingPlan: Codable, Equatable, Sendable {
    public var speaker: SpeakerPlan
    public var index: Int
    public var id: String
    public var jitter: SessionJitter
    public var channel: ChannelChain
}

/// Every draw of the corpus that does not need a synthesiser: speakers, voices, recordings, channels.
/// Pure and deterministic in `(options.seed, split, speaker, recording, utterance)`.
public struct CorpusRecipe: Sendable {
    public let options: CorpusOptions
    public let train: [SpeakerPlan]
    public let dev: [SpeakerPlan]

    /// Engines drawn by share instead of being the default, in draw order (CORPUS.md §2.2).
    static let drawnEngines: [SynthEngine] = [.flite, .festival, .piper]

    public init(options: CorpusOptions, languages: [String]) {
        self.options = options
        train = Self.speakers(.train, count: options.speakers, options: options, languages: languages)
        dev = Self.speakers(.dev, count: options.devSpeakers, options: options, languages: languages)
    }

    /// How many speakers per split `engine` can make (its base voices times the cap); espeak-ng is unlimited.
    public static func capacity(of engine: SynthEngine, languages: [String]) -> Int {
        switch engine {
        case .espeakNG: Int.max / 4
        case .flite: FliteVoice.baseVoices.count * FliteVoice.maxPerBase
        case .festival: FestivalVoice.bases(languages: languages).count * FestivalVoice.maxPerBase
        case .piper: PiperVoice.maxSpeakers
        }
    }

    /// Each speaker's engine comes from one uniform draw against the cumulative shares of the enabled
    /// engines (flite, festival, piper, then espeak-ng for the rest). With espeak-ng and flite only this is the
    /// earlier `bernoulli(8/83)`, so those corpora are unchanged. A drawn engine whose base voices are
    /// all at their cap gives way to espeak-ng, or without it to the next engine with room.
    static func speakers(_ split: CorpusSplit, count: Int, options: CorpusOptions, languages: [String]) -> [SpeakerPlan] {
        let width = max(4, String(count).count)
        let prefix = split == .train ? "spk" : "dev"
        var perBase: [String: Int] = [:]
        let drawn = drawnEngines.filter { options.engines.contains($0) }
        let hasEspeak = options.engines.contains(.espeakNG)
        let total = drawn.reduce(hasEspeak ? SynthEngine.espeakNG.share : 0) { $0 + $1.share }
        let festivalBases = FestivalVoice.bases(languages: languages)
        func open(_ engine: SynthEngine) -> [String] {
            switch engine {
            case .espeakNG: []
            case .flite: FliteVoice.baseVoices.filter { perBase["flite/" + $0, default: 0] < FliteVoice.maxPerBase }
            case .festival: festivalBases.map(\.name).filter { perBase["festival/" + $0, default: 0] < FestivalVoice.maxPerBase }
            case .piper: perBase["piper/joe", default: 0] < PiperVoice.maxSpeakers ? ["joe"] : []
            }
        }
        return (0..<count).map { i in
            var e = CorpusRandom(seed: options.seed, "engine", split.code, i)
            var v = CorpusRandom(seed: options.seed, "voice", split.code, i)
            var engine = SynthEngine.espeakNG
            if !drawn.isEmpty {
                let u = e.unit()
                var cumulative = 0
                for candidate in drawn {
                    cumulative += candidate.share
                    if u < Double(cumulative) / Double(total) { engine = candidate; break }
                }
                if engine != .espeakNG, open(engine).isEmpty {
                    engine = hasEspeak ? .espeakNG : (drawn.first { !open($0).isEmpty } ?? .espeakNG)
                }
            }
            var voice = SpeakerVoice(engine: engine, espeak: nil, flite: nil)
            switch engine {
            case .espeakNG:
                voice.espeak = EspeakVoice.draw(&v, languages: languages)
            case .flite:
                let base = e.choice(open(.flite))
                perBase["flite/" + base, default: 0] += 1
                voice.flite = FliteVoice.draw(&v, base: base)
            case .festival:
                // As for espeak-ng, other languages than English get one speaker in five.
                let names = open(.festival)
                let english = names.filter { n in festivalBases.contains { $0.name == n && $0.language.hasPrefix("en") } }
                let others = names.filter { !english.contains($0) }
                let name = !others.isEmpty && (english.isEmpty || e.bernoulli(0.2)) ? e.choice(others) : e.choice(english)
                perBase["festival/" + name, default: 0] += 1
                voice.festival = FestivalVoice.draw(&v, base: festivalBases.first { $0.name == name } ?? festivalBases[0])
            case .piper:
                perBase["piper/joe", default: 0] += 1
                voice.piper = PiperVoice.draw(&v)
            }
            let number = String(i + 1)
            let id = prefix + String(repeating: "0", count: max(0, width - number.count)) + number
            return SpeakerPlan(id: id, split: split, index: i, voice: voice)
        }
    }

    public var allSpeakers: [SpeakerPlan] { train + dev }

    public func recordings(of speaker: SpeakerPlan) -> [RecordingPlan] {
        (0..<options.recordings).map { k in
            var r = CorpusRandom(seed: options.seed, "recording", speaker.split.code, speaker.index, k)
            let jitter = SessionJitter.draw(&r)
            var channel = ChannelChain.draw(&r, trainingSpeakers: options.speakers,
                                            exclude: speaker.split == .train ? speaker.index : nil)
            if let fraction = options.mildFraction, fraction > 0 {
                var m = CorpusRandom(seed: options.seed, "mild", speaker.split.code, speaker.index, k)
                if m.bernoulli(fraction) { channel.makeMild(&m) }
            }
            return RecordingPlan(speaker: speaker, index: k, id: String(format: "rec%02d", k + 1),
                                 jitter: jitter, channel: channel)
        }
    }

    public var allRecordings: [RecordingPlan] { allSpeakers.flatMap { recordings(of: $0) } }

    /// `spk0001/rec01/00001.wav`-style path of an utterance, relative to the corpus `wav/` folder.
    public static func utterancePath(_ recording: RecordingPlan, _ utterance: Int) -> String {
        "\(recording.speaker.id)/\(recording.id)/" + String(format: "%05d", utterance + 1) + ".wav"
    }

    /// A stream for utterance-level draws (text, SNR offset, noise, attempts).
    public func random(_ label: String, _ recording: RecordingPlan, _ utterance: Int, _ attempt: Int = 0) -> CorpusRandom {
        CorpusRandom(seed: options.seed, label, recording.speaker.split.code, recording.speaker.index,
                     recording.index, utterance, attempt)
    }
}
