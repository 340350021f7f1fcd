import Foundation

/// Triangular mel filters as an (n_mels, n_fft/2 + 1) row-major weight matrix.
///
/// Built once per config in Double (the references compute in float32, so they differ from the
/// exact weights by up to ~1.5e-5; see README). At inference the filterbank stored in the model
/// file (`features.mel_fbank`) is used instead, so training and inference share the exact table.
public struct MelFilterbank: Sendable, Equatable {
    public let nMels: Int
    public let bins: Int
    /// (n_mels, bins), row-major.
    public let weights: [Float]

    /// Builds the filters that `config` describes. Throws if a filter covers no FFT bin.
    public init(config: FeatureConfig) throws(FeatureError) {
        try config.validate()
        let weights = Self.build(config)
        try self.init(nMels: config.nMels, bins: config.bins, weights: weights)
        for m in 0..<nMels where !weights[(m * bins)..<((m + 1) * bins)].contains(where: { $0 > 0 }) {
            throw .invalidConfig(field: "n_mels", value: "\(config.nMels)",
                                 reason: "mel filter \(m) covers no FFT bin; lower n_mels or raise n_fft")
        }
    }

    /// Wraps a table loaded from a model file after checking its size and values.
    public init(nMels: Int, bins: Int, weights: [Float]) throws(FeatureError) {
        guard weights.count == nMels * bins else {
            throw .tableShapeMismatch(table: "features.mel_fbank", expected: nMels * bins, actual: weights.count)
        }
        if let bad = weights.firstIndex(where: { !$0.isFinite }) {
            throw .nonFiniteTable(table: "features.mel_fbank", index: bad)
        }
        self.nMels = nMels
        self.bins = bins
        self.weights = weights
    }

    public static func hzToMel(_ hz: Double, scale: MelScale) -> Double {
        switch scale {
        case .htk: return 2595 * log10(1 + hz / 700)
        case .kaldi: return 1127 * Foundation.log(1 + hz / 700)
        }
    }

    public static func melToHz(_ mel: Double, scale: MelScale) -> Double {
        switch scale {
        case .htk: return 700 * (pow(10, mel / 2595) - 1)
        case .kaldi: return 700 * (exp(mel / 1127) - 1)
        }
    }

    // ref (behaviour, re-derived): torchaudio 2.11 functional.melscale_fbanks,
    // compliance/kaldi.py get_mel_banks, speechbrain 1.1.2 processing/features.py Filterbank.
    private static func build(_ c: FeatureConfig) -> [Float] {
        let bins = c.bins, nMels = c.nMels, scale = c.melScale
        let melLow = hzToMel(c.fMin, scale: scale), melHigh = hzToMel(c.fMax, scale: scale)
        let step = (melHigh - melLow) / Double(nMels + 1)
        // Bin frequencies: torchaudio/speechbrain use linspace(0, sr//2, bins); Kaldi k·sr/n_fft.
        let binHz: [Double] = (0..<bins).map { k in
            c.filterConstruction == .kaldi
                ? Double(k) * Double(c.sampleRate) / Double(c.nFFT)
                : Double(k) * Double(c.sampleRate / 2) / Double(bins - 1)
        }
        let pointMel = (0..<(nMels + 2)).map { melLow + Double($0) * step }
        let pointHz = pointMel.map { melToHz($0, scale: scale) }
        var weights = [Float](repeating: 0, count: nMels * bins)
        for m in 0..<nMels {
            var leftHz = pointHz[m], rightHz = pointHz[m + 2]
            for k in 0..<bins {
                let f = binHz[k]
                let w: Double
                switch c.filterConstruction {
                case .torchaudio:
                    let up = (f - pointHz[m]) / (pointHz[m + 1] - pointHz[m])
                    let down = (pointHz[m + 2] - f) / (pointHz[m + 2] - pointHz[m + 1])
                    w = max(0, min(up, down))
                case .kaldi:
                    if k == bins - 1 { w = 0; break }  // Kaldi leaves the Nyquist bin out
                    let mel = hzToMel(f, scale: scale)
                    let up = (mel - pointMel[m]) / (pointMel[m + 1] - pointMel[m])
                    let down = (pointMel[m + 2] - mel) / (pointMel[m + 2] - pointMel[m + 1])
                    w = max(0, min(up, down))
                case .speechbrain:
                    let centre = pointHz[m + 1], band = pointHz[m + 1] - pointHz[m]
                    leftHz = centre - band
                    rightHz = centre + band
                    w = max(0, 1 - abs(f - centre) / band)
                }
                weights[m * bins + k] = Float(w)
            }
            if c.filterNorm == .slaney {
                let gain = 2 / (rightHz - leftHz)
                for k in 0..<bins { weights[m * bins + k] = Float(Double(weights[m * bins + k]) * gain) }
            }
        }
        return weights
    }
}
