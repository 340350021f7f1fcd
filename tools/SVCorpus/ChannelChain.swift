import Foundation

/// Codecs applied by `sox` offline on this system. CORPUS.md also lists opus, codec2, aac, speex and
/// g722, which sox cannot write; amr-nb, a-law and vorbis stand in for them.
public enum Codec: String, Codable, Sendable, CaseIterable {
    case none, gsm, mulaw, alaw, mp3, amrnb = "amr-nb", vorbis

    /// The Debian package whose sox format handler writes this codec (u-law and a-law are built into sox).
    public var soxPackage: String {
        switch self {
        case .none, .mulaw, .alaw: return "sox"
        case .gsm, .amrnb, .vorbis: return "libsox-fmt-base"
        case .mp3: return "libsox-fmt-mp3"
        }
    }
}

/// One peaking EQ band.
public struct EQBand: Codable, Equatable, Sendable {
    public var frequency: Int
    public var gainDB: Double
}

/// Electrical hum mixed in after the codec.
public struct Hum: Codable, Equatable, Sendable {
    public var frequency: Int
    public var levelDB: Double
}

/// The channel of one recording (CORPUS.md §2.3), drawn once and applied identically to each of its
/// utterances (only the SNR moves, by ±1 dB per utterance).
public struct ChannelChain: Codable, Equatable, Sendable {
    public var room: RoomSpec?
    public var noise: NoiseType
    public var snrDB: Double
    /// Indices of the training speakers whose voices make the babble.
    public var babbleSpeakers: [Int]?
    public var highpassHz: Int
    public var lowpassHz: Int
    public var eq: [EQBand]
    public var codec: Codec
    /// kbit/s for mp3, the AMR mode (0–7) for amr-nb, the quality (−1…1) for vorbis.
    public var codecSetting: Double?
    public var hum: Hum?
    public var gainDB: Double
    /// Drive in dB into a tanh soft clipper, for the 5 % of recordings that clip.
    public var clipDriveDB: Double?
    /// Set on the "mild" recordings (see `CorpusOptions.mildFraction`).
    public var mild: Bool?

    public static let highpassChoices = [50, 80, 120, 200, 300]
    public static let lowpassChoices = [3400, 4000, 5500, 7000, 7900]
    public static let eqChoices = [300, 800, 1500, 2500, 4000]
    /// none twice, as in the recipe.
    public static let codecChoices: [Codec] = [.none, .none, .gsm, .mulaw, .alaw, .mp3, .amrnb, .vorbis]

    /// `trainingSpeakers`: how many training speakers exist to make babble from; `exclude`: this
    /// recording's own speaker when it is a training speaker.
    public static func draw(_ r: inout CorpusRandom, trainingSpeakers: Int, exclude: Int?) -> ChannelChain {
        let room: RoomSpec? = r.bernoulli(0.8) ? RoomSpec.draw(&r) : nil
        var noise = r.choice(NoiseType.allCases)
        let snr = rounded(r.uniform(0, 30), 2)
        var babble: [Int]? = nil
        if noise == .babble {
            let candidates = (0..<trainingSpeakers).filter { $0 != exclude }
            let picks = r.distinct(r.int(3...6), of: candidates.count).map { candidates[$0] }
            if picks.isEmpty { noise = .pink } else { babble = picks }
        }
        let hp = r.choice(highpassChoices), lp = r.choice(lowpassChoices)
        let bands = r.distinct(r.int(0...3), of: eqChoices.count).sorted().map {
            EQBand(frequency: eqChoices[$0], gainDB: rounded(r.uniform(-8, 8), 1))
        }
        let codec = r.choice(codecChoices)
        let setting: Double?
        switch codec {
        case .mp3: setting = Double(r.choice([16, 24, 32]))
        case .amrnb: setting = Double(r.int(0...7))
        case .vorbis: setting = rounded(r.uniform(-1, 0), 1)
        default: setting = nil
        }
        let hum: Hum? = r.bernoulli(0.1) ? Hum(frequency: r.choice([50, 60]), levelDB: rounded(r.uniform(-40, -25), 1)) : nil
        let gain = rounded(r.uniform(-20, 0), 1)
        let clip: Double? = r.bernoulli(0.05) ? rounded(r.uniform(6, 18), 1) : nil
        return ChannelChain(room: room, noise: noise, snrDB: snr, babbleSpeakers: babble, highpassHz: hp,
                            lowpassHz: lp, eq: bands, codec: codec, codecSetting: setting, hum: hum,
                            gainDB: gain, clipDriveDB: clip)
    }

    /// No codec, no clipping, SNR redrawn in U(20, 30) dB.
    public mutating func makeMild(_ r: inout CorpusRandom) {
        codec = .none; codecSetting = nil; clipDriveDB = nil
        snrDB = rounded(r.uniform(20, 30), 2)
        mild = true
    }

    /// The utterance's SNR: the recording's ± 1 dB.
    public func utteranceSNR(_ r: inout CorpusRandom) -> Double { rounded(snrDB + r.uniform(-1, 1), 2) }

    /// sox effects for the microphone band limit and EQ, normalised to −1 dBFS for the codec.
    public var soxEffects: [String] {
        var e = ["highpass", "\(highpassHz)", "lowpass", "\(lowpassHz)"]
        for b in eq { e += ["equalizer", "\(b.frequency)", "1q", "\(b.gainDB)"] }
        return e + ["gain", "-n", "-1"]
    }

    /// The sox output options and file extension of the encode step, or nil without a codec.
    public var codecEncode: (options: [String], ext: String)? { Self.encode(codec, setting: codecSetting) }

    /// The sox output options and file extension that write `codec` at `codecSetting` (its default when nil).
    public static func encode(_ codec: Codec, setting codecSetting: Double?) -> (options: [String], ext: String)? {
        switch codec {
        case .none: return nil
        case .gsm: return (["-r", "8000", "-c", "1"], "gsm")
        case .mulaw: return (["-r", "8000", "-c", "1", "-e", "u-law"], "ul")
        case .alaw: return (["-r", "8000", "-c", "1", "-e", "a-law"], "al")
        case .mp3: return (["-r", "16000", "-c", "1", "-C", "\(Int(codecSetting ?? 24))"], "mp3")
        case .amrnb: return (["-r", "8000", "-c", "1", "-C", "\(Int(codecSetting ?? 7))"], "amr-nb")
        case .vorbis: return (["-r", "16000", "-c", "1", "-C", "\(codecSetting ?? 0)"], "ogg")
        }
    }
}
