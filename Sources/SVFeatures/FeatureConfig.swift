import Foundation

// MARK: - Enumerations (their raw values are the JSON spelling; never rename them)

/// Analysis window shape. `periodic` (in `FeatureConfig`) picks the denominator N (periodic, torch
/// default) or N − 1 (symmetric, Kaldi).
public enum WindowKind: String, Codable, Sendable, CaseIterable {
    /// 0.54 − 0.46·cos(2πn/D)
    case hamming
    /// 0.5 − 0.5·cos(2πn/D)
    case hann
    /// Kaldi's "povey": (0.5 − 0.5·cos(2πn/D))^0.85
    case povey
    /// all ones
    case rectangular
}

/// How the signal is extended by n_fft/2 samples on each side when `center` is true.
public enum PadMode: String, Codable, Sendable, CaseIterable {
    /// torch "reflect": x[1], x[2], … mirrored without repeating the edge sample
    case reflect
    /// zeros
    case constant
}

/// Hz ↔ mel mapping. Both are the same curve up to rounding (2595/ln 10 ≈ 1127.01).
public enum MelScale: String, Codable, Sendable, CaseIterable {
    /// 2595·log10(1 + f/700) (torchaudio, speechbrain)
    case htk
    /// 1127·ln(1 + f/700) (Kaldi)
    case kaldi
}

/// Where the triangular filters are defined.
public enum FilterConstruction: String, Codable, Sendable, CaseIterable {
    /// torchaudio `melscale_fbanks`: n_mels+2 points equally spaced in mel, triangles linear in Hz
    /// evaluated at the bin frequencies k·sr/n_fft; the Nyquist bin is included.
    case torchaudio
    /// Kaldi `get_mel_banks`: triangles linear in mel, evaluated at mel(k·sr/n_fft) for
    /// k < n_fft/2; the Nyquist bin gets weight 0.
    case kaldi
    /// speechbrain `Filterbank`: symmetric triangles in Hz centred on point i+1 whose half-width is
    /// the distance to point i (max(0, 1 − |f − fc|/band)).
    case speechbrain
}

/// Filter area normalisation.
public enum FilterNorm: String, Codable, Sendable, CaseIterable {
    case none
    /// Each filter scaled by 2/(f_right − f_left) (librosa/torchaudio "slaney").
    case slaney
}

/// Compression of the mel energies x.
public enum LogKind: String, Codable, Sendable, CaseIterable {
    /// ln(x + log_floor) (sslsv: 1e-6)
    case lnAdd = "ln_add"
    /// ln(max(x, log_floor)) (Kaldi: float epsilon)
    case lnFloor = "ln_floor"
    /// 10·log10(max(x, log_floor)) for power 2 (20·log10 for power 1), then, with `top_db`, clipped
    /// from below at (utterance max − top_db) (speechbrain: amin 1e-10, top_db 80)
    case decibel = "db"
}

/// Per-utterance normalisation of each mel bin over time.
public enum Normalization: String, Codable, Sendable, CaseIterable {
    case none
    /// x − mean over time (speechbrain sentence norm with std_norm False, WeSpeaker CMN)
    case mean
    /// (x − mean)/sqrt(biased variance + norm_eps) (`InstanceNorm1d`, affine False)
    case meanVariance = "mean_variance"
}

// MARK: - FeatureConfig

/// A complete description of a log-mel front end. It is stored as JSON (`spkv.features`) in
/// every model file, so the JSON keys below are part of the file format.
///
/// Framing: with `center` the signal is padded by n_fft/2 on each side (`pad_mode`) and frame t
/// spans padded samples [t·hop, t·hop + n_fft) with the window centred in it (torch.stft);
/// without `center` frame t is samples [t·hop, t·hop + win_length), zero-padded on the right to
/// n_fft (Kaldi `snip_edges`). Per frame, in this order: × waveform_scale, + dither·N(0,1),
/// − frame mean (remove_dc), pre-emphasis x[j] − c·x[j−1] with x[−1] = x[0] (Kaldi), × window.
public struct FeatureConfig: Codable, Equatable, Sendable {
    public var sampleRate: Int
    public var nFFT: Int
    public var winLength: Int
    public var hopLength: Int
    public var window: WindowKind
    public var windowPeriodic: Bool
    public var center: Bool
    /// Used only when `center` is true.
    public var padMode: PadMode
    /// 1 for float audio in [−1, 1), 32768 for Kaldi's int16 scale.
    public var waveformScale: Double
    /// Standard deviation of Gaussian dither added per frame; 0 at inference.
    public var dither: Double
    public var removeDC: Bool
    /// Pre-emphasis coefficient in [0, 1]; 0 disables it.
    public var preemphasis: Double
    /// 2 for the power spectrum |X|², 1 for the magnitude |X|.
    public var power: Int
    public var nMels: Int
    public var fMin: Double
    public var fMax: Double
    public var melScale: MelScale
    public var filterConstruction: FilterConstruction
    public var filterNorm: FilterNorm
    public var log: LogKind
    /// eps of `ln_add`, floor of `ln_floor`, amin of `db`.
    public var logFloor: Double
    /// Only with `log == .decibel`; nil means no clipping.
    public var topDB: Double?
    public var normalization: Normalization
    /// Variance epsilon of `mean_variance`; ignored otherwise.
    public var normEps: Double

    enum CodingKeys: String, CodingKey {
        case sampleRate = "sample_rate", nFFT = "n_fft", winLength = "win_length", hopLength = "hop_length"
        case window, windowPeriodic = "window_periodic", center, padMode = "pad_mode"
        case waveformScale = "waveform_scale", dither, removeDC = "remove_dc", preemphasis, power
        case nMels = "n_mels", fMin = "f_min", fMax = "f_max", melScale = "mel_scale"
        case filterConstruction = "filter_construction", filterNorm = "filter_norm"
        case log, logFloor = "log_floor", topDB = "top_db", normalization, normEps = "norm_eps"
    }

    public init(sampleRate: Int, nFFT: Int, winLength: Int, hopLength: Int,
                window: WindowKind, windowPeriodic: Bool, center: Bool, padMode: PadMode,
                waveformScale: Double = 1, dither: Double = 0, removeDC: Bool = false, preemphasis: Double = 0,
                power: Int = 2, nMels: Int, fMin: Double, fMax: Double, melScale: MelScale,
                filterConstruction: FilterConstruction, filterNorm: FilterNorm = .none,
                log: LogKind, logFloor: Double, topDB: Double? = nil,
                normalization: Normalization, normEps: Double = 0) {
        self.sampleRate = sampleRate; self.nFFT = nFFT; self.winLength = winLength; self.hopLength = hopLength
        self.window = window; self.windowPeriodic = windowPeriodic; self.center = center; self.padMode = padMode
        self.waveformScale = waveformScale; self.dither = dither; self.removeDC = removeDC
        self.preemphasis = preemphasis; self.power = power; self.nMels = nMels; self.fMin = fMin; self.fMax = fMax
        self.melScale = melScale; self.filterConstruction = filterConstruction; self.filterNorm = filterNorm
        self.log = log; self.logFloor = logFloor; self.topDB = topDB
        self.normalization = normalization; self.normEps = normEps
    }

    /// Number of one-sided frequency bins, n_fft/2 + 1.
    public var bins: Int { nFFT / 2 + 1 }

    /// Where the window starts inside the n_fft frame (torch centres it; Kaldi pads on the right).
    public var windowOffset: Int { center ? (nFFT - winLength) / 2 : 0 }

    /// Fewest samples that give one frame: win_length (snip edges), n_fft/2 + 1 (reflect padding
    /// must not run past the signal) or 1 (constant padding).
    public var minimumSamples: Int {
        guard center else { return winLength }
        return padMode == .reflect ? nFFT / 2 + 1 : 1
    }

    /// Frames for `samples` input samples; 0 when fewer than `minimumSamples`.
    /// center: 1 + (L + 2·⌊n_fft/2⌋ − n_fft) / hop; snip edges: 1 + (L − win) / hop.
    public func frameCount(samples: Int) -> Int {
        guard samples >= minimumSamples, samples > 0 else { return 0 }
        if center { return 1 + (samples + 2 * (nFFT / 2) - nFFT) / hopLength }
        return 1 + (samples - winLength) / hopLength
    }

    // MARK: Validation

    /// Checks every field; the first problem found is thrown with the field's JSON key.
    public func validate() throws(FeatureError) {
        func fail(_ key: CodingKeys, _ value: Any, _ reason: String) -> FeatureError {
            .invalidConfig(field: key.rawValue, value: "\(value)", reason: reason)
        }
        guard sampleRate > 0 else { throw fail(.sampleRate, sampleRate, "must be positive") }
        guard nFFT >= 4, nFFT <= 65536, nFFT % 2 == 0 else {
            throw fail(.nFFT, nFFT, "must be even and in [4, 65536]")
        }
        guard winLength >= 2, winLength <= nFFT else {
            throw fail(.winLength, winLength, "must be in [2, n_fft = \(nFFT)]")
        }
        guard hopLength >= 1 else { throw fail(.hopLength, hopLength, "must be at least 1") }
        guard waveformScale.isFinite, waveformScale > 0 else {
            throw fail(.waveformScale, waveformScale, "must be finite and positive (1 or 32768)")
        }
        guard dither.isFinite, dither >= 0 else { throw fail(.dither, dither, "must be finite and ≥ 0 (0 at inference)") }
        guard preemphasis.isFinite, (0...1).contains(preemphasis) else {
            throw fail(.preemphasis, preemphasis, "must be in [0, 1]")
        }
        guard power == 1 || power == 2 else { throw fail(.power, power, "must be 1 (magnitude) or 2 (power)") }
        guard nMels >= 1, nMels <= bins else { throw fail(.nMels, nMels, "must be in [1, n_fft/2 + 1 = \(bins)]") }
        let nyquist = Double(sampleRate) / 2
        guard fMin.isFinite, fMin >= 0, fMin < nyquist else {
            throw fail(.fMin, fMin, "must be in [0, sample_rate/2 = \(nyquist))")
        }
        guard fMax.isFinite, fMax > fMin, fMax <= nyquist else {
            throw fail(.fMax, fMax, "must be in (f_min = \(fMin), sample_rate/2 = \(nyquist)]")
        }
        guard logFloor.isFinite, logFloor > 0 else { throw fail(.logFloor, logFloor, "must be finite and positive") }
        if let topDB {
            guard log == .decibel else { throw fail(.topDB, topDB, "only allowed with log = db") }
            guard topDB.isFinite, topDB > 0 else { throw fail(.topDB, topDB, "must be finite and positive") }
        }
        guard normEps.isFinite, normEps >= 0 else { throw fail(.normEps, normEps, "must be finite and ≥ 0") }
        if normalization == .meanVariance && normEps <= 0 {
            throw fail(.normEps, normEps, "must be positive with mean_variance normalisation")
        }
    }

    // MARK: JSON

    /// Deterministic JSON (sorted keys), the form stored in model files.
    public func jsonData() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Encoding plain numbers, strings and booleans cannot fail.
        return (try? encoder.encode(self)) ?? Data()
    }

    public func jsonString() -> String { String(decoding: jsonData(), as: UTF8.self) }

    /// Decodes and validates a config read from a model file.
    public static func decode(json: Data) throws(FeatureError) -> FeatureConfig {
        let config: FeatureConfig
        do {
            config = try JSONDecoder().decode(FeatureConfig.self, from: json)
        } catch let error as DecodingError {
            throw .invalidJSON(reason: describe(error))
        } catch {
            throw .invalidJSON(reason: "\(error)")
        }
        try config.validate()
        return config
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map(\.stringValue).joined(separator: ".")
        }
        switch error {
        case let .keyNotFound(key, _): return "missing key \(key.stringValue)"
        case let .typeMismatch(_, context): return "wrong type at \(path(context)): \(context.debugDescription)"
        case let .valueNotFound(_, context): return "null at \(path(context))"
        case let .dataCorrupted(context): return "bad value at \(path(context)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}

// MARK: - Presets

extension FeatureConfig {
    /// theolepage/sslsv `_BaseEncoder` (SimCLR, Fast-ResNet): torchaudio MelSpectrogram(n_fft 512,
    /// win 400, hop 160, periodic Hamming, 40 mels), ln(x + 1e-6), InstanceNorm1d (eps 1e-5).
    public static let sslsv40 = FeatureConfig(
        sampleRate: 16000, nFFT: 512, winLength: 400, hopLength: 160, window: .hamming, windowPeriodic: true,
        center: true, padMode: .reflect, power: 2, nMels: 40, fMin: 0, fMax: 8000, melScale: .htk,
        filterConstruction: .torchaudio, filterNorm: .none, log: .lnAdd, logFloor: 1e-6,
        normalization: .meanVariance, normEps: 1e-5)

    /// sslsv DINO-SSPS ECAPA configs: as `sslsv40` with a periodic Hann window and 80 mels.
    public static let sslsv80: FeatureConfig = {
        var config = sslsv40
        config.window = .hann
        config.nMels = 80
        return config
    }()

    /// speechbrain `Fbank(n_mels=80)` + `InputNormalization(norm_type="sentence", std_norm=False)`:
    /// n_fft 400, win 400, hop 160, periodic Hamming, centred with zero padding, power spectrum,
    /// speechbrain's symmetric Hz triangles, 10·log10(max(x, 1e-10)) clipped 80 dB below the
    /// utterance max, mean subtraction over time.
    public static let speechbrain = FeatureConfig(
        sampleRate: 16000, nFFT: 400, winLength: 400, hopLength: 160, window: .hamming, windowPeriodic: true,
        center: true, padMode: .constant, power: 2, nMels: 80, fMin: 0, fMax: 8000, melScale: .htk,
        filterConstruction: .speechbrain, filterNorm: .none, log: .decibel, logFloor: 1e-10, topDB: 80,
        normalization: .mean, normEps: 0)

    /// torchaudio `compliance.kaldi.fbank` as WeSpeaker calls it: waveform × 32768, 25/10 ms frames
    /// (snip_edges), symmetric Hamming, DC removal, pre-emphasis 0.97, n_fft 512, 80 Kaldi mel bins
    /// from 20 Hz to Nyquist, power spectrum, ln(max(x, FLT_EPSILON)); then mean subtraction (CMN).
    public static let kaldi = FeatureConfig(
        sampleRate: 16000, nFFT: 512, winLength: 400, hopLength: 160, window: .hamming, windowPeriodic: false,
        center: false, padMode: .constant, waveformScale: 32768, dither: 0, removeDC: true, preemphasis: 0.97,
        power: 2, nMels: 80, fMin: 20, fMax: 8000, melScale: .kaldi, filterConstruction: .kaldi,
        filterNorm: .none, log: .lnFloor, logFloor: Double(Float.ulpOfOne), normalization: .mean, normEps: 0)

    /// 3D-Speaker's `FBank(80, 16000, mean_nor=True)` (CAM++, ERes2Net): `compliance.kaldi.fbank` with
    /// its own defaults on the waveform in [-1, 1). It differs from `kaldi` (WeSpeaker's call) in two
    /// places only: the window is Kaldi's default "povey" (Hann^0.85), not Hamming, and the waveform is
    /// not scaled by 32768 — which shifts every log energy by ln 32768² before the mean subtraction
    /// removes it again, except where the FLT_EPSILON floor is reached (digital silence).
    public static let threeDSpeaker: FeatureConfig = {
        var config = kaldi
        config.window = .povey
        config.waveformScale = 1
        return config
    }()

    /// Names accepted by `preset(named:)`.
    public static var presetNames: [String] { ["sslsv-40", "sslsv-80", "speechbrain", "kaldi", "3d-speaker"] }

    public static func preset(named name: String) -> FeatureConfig? {
        switch name {
        case "sslsv-40": return sslsv40
        case "sslsv-80": return sslsv80
        case "speechbrain": return speechbrain
        case "kaldi": return kaldi
        case "3d-speaker": return threeDSpeaker
        default: return nil
        }
    }
}
