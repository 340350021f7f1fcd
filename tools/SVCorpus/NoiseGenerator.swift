import Foundation

/// Environmental noise types of CORPUS.md §2.3.
public enum NoiseType: String, Codable, Sendable, CaseIterable {
    case white, pink, brown, babble, music, none
}

/// Generated noises (never recorded audio) and exact SNR mixing.
public enum NoiseGenerator {
    /// Unit-RMS noise of `count` samples.
    public static func generate(_ type: NoiseType, count: Int, sampleRate: Int = 16_000, seed: UInt64) -> [Float] {
        var r = CorpusRandom(seed: seed, "noise-\(type.rawValue)")
        var x = [Float](repeating: 0, count: count)
        switch type {
        case .none, .babble:
            return x
        case .white:
            for i in 0..<count { x[i] = Float(r.normal()) }
        case .pink:
            // Paul Kellet's refined pink filter (−3 dB/octave within ±0.05 dB above 9 Hz at 44.1 kHz).
            var b = [Double](repeating: 0, count: 7)
            for i in 0..<count {
                let w = r.normal()
                b[0] = 0.99886 * b[0] + w * 0.0555179; b[1] = 0.99332 * b[1] + w * 0.0750759
                b[2] = 0.96900 * b[2] + w * 0.1538520; b[3] = 0.86650 * b[3] + w * 0.3104856
                b[4] = 0.55000 * b[4] + w * 0.5329522; b[5] = -0.7616 * b[5] - w * 0.0168980
                x[i] = Float(b[0] + b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + w * 0.5362)
                b[6] = w * 0.115926
            }
        case .brown:
            var y = 0.0
            for i in 0..<count { y = 0.995 * y + r.normal(); x[i] = Float(y) }
            let mean = x.reduce(0, +) / Float(max(count, 1))
            for i in 0..<count { x[i] -= mean }
        case .music:
            x = music(count: count, sampleRate: sampleRate, r: &r)
        }
        return normalizedRMS(x)
    }

    /// Synthetic "music": triads of harmonic tones with a decaying envelope, a new chord every 0.4–1.2 s.
    static func music(count: Int, sampleRate: Int, r: inout CorpusRandom) -> [Float] {
        var x = [Float](repeating: 0, count: count)
        let fs = Double(sampleRate)
        var t0 = 0
        let root = r.int(45...57)  // MIDI note
        while t0 < count {
            let length = Int(r.uniform(0.4, 1.2) * fs)
            let chordRoot = root + r.choice([0, 5, 7, 9, 4, 2])
            let minor = r.bernoulli(0.4)
            let notes = [chordRoot, chordRoot + (minor ? 3 : 4), chordRoot + 7, chordRoot + 12]
            for note in notes {
                let f = 440 * pow(2, Double(note - 69) / 12)
                let phase = r.uniform(0, 2 * Double.pi)
                for n in 0..<min(length, count - t0) {
                    let t = Double(n) / fs
                    let env = exp(-2.5 * t) * min(1, t / 0.01)
                    var v = 0.0
                    for k in 1...4 where f * Double(k) < fs / 2 { v += sin(2 * Double.pi * f * Double(k) * t + phase) / Double(k * k) }
                    x[t0 + n] += Float(env * v)
                }
            }
            t0 += length
        }
        return x
    }

    /// Electrical hum: `base` Hz plus 4 harmonics, unit RMS.
    public static func hum(base: Double, count: Int, sampleRate: Int = 16_000) -> [Float] {
        var x = [Float](repeating: 0, count: count)
        for n in 0..<count {
            let t = Double(n) / Double(sampleRate)
            var v = 0.0
            for k in 1...5 { v += sin(2 * Double.pi * base * Double(k) * t) / Double(k) }
            x[n] = Float(v)
        }
        return normalizedRMS(x)
    }

    public static func rms(_ x: [Float]) -> Double {
        guard !x.isEmpty else { return 0 }
        return sqrt(x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(x.count))
    }

    public static func normalizedRMS(_ x: [Float]) -> [Float] {
        let v = rms(x)
        return v > 0 ? x.map { Float(Double($0) / v) } : x
    }

    /// `signal + g·noise` with g chosen so that the power ratio of `signal` to `g·noise` is `snrDB`
    /// (mean power over the whole clip). `noise` is tiled or cut to the signal's length.
    public static func mix(signal: [Float], noise: [Float], snrDB: Double) -> [Float] {
        guard !noise.isEmpty else { return signal }
        let n = signal.count
        let tiled = (0..<n).map { noise[$0 % noise.count] }
        let ps = pow(rms(signal), 2), pn = pow(rms(tiled), 2)
        guard pn > 0, ps > 0 else { return signal }
        let g = sqrt(ps / (pn * pow(10, snrDB / 10)))
        return (0..<n).map { Float(Double(signal[$0]) + g * Double(tiled[$0])) }
    }
}
