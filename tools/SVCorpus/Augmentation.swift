import Foundation

/// Training-time augmentation as in the reference (reference-sslsv.md §6), fed by generated sources
/// only: simulated RIRs, generated noise and music, and speech chunks of training utterances.
public enum AugmentationStrategy: String, Codable, Sendable, CaseIterable {
    /// Every view: reverberation, then additive noise.
    case reverbNoise = "reverb+noise"
    /// Each view independently: nothing, reverb, noise or reverb+noise with probability ¼ each.
    case all
    case none
}

/// MUSAN-like noise categories with their SNR ranges in dB.
public enum NoiseCategory: String, Codable, Sendable, CaseIterable {
    case speech, noise, music

    public var snrRange: ClosedRange<Double> {
        switch self {
        case .noise: return 0...15
        case .speech: return 13...20
        case .music: return 5...15
        }
    }
}

/// The RIRs and noise chunks augmentation draws from.
public struct AugmentationBank: Sendable {
    /// Unit-energy impulse responses.
    public var rirs: [[Float]]
    /// 8 s chunks per category (a category may be empty, then it is not drawn).
    public var chunks: [NoiseCategory: [[Float]]]

    public init(rirs: [[Float]], chunks: [NoiseCategory: [[Float]]]) {
        self.rirs = rirs; self.chunks = chunks
    }

    /// A generated bank: `rirCount` shoebox rooms (CORPUS.md §2.3 ranges), `noiseCount` white/pink/brown
    /// chunks, `musicCount` synthetic music chunks, and speech chunks: babble of 3–6 of `speech` (training
    /// utterances, 16 kHz) per chunk, `speechCount` of them.
    public static func generate(seed: UInt64, rirCount: Int = 200, noiseCount: Int = 60, musicCount: Int = 30,
                                speechCount: Int = 30, speech: [[Float]] = [], sampleRate: Int = 16_000,
                                chunkSeconds: Double = 8) -> AugmentationBank {
        let n = Int(chunkSeconds * Double(sampleRate))
        var rirs: [[Float]] = []
        for k in 0..<rirCount {
            var r = CorpusRandom(seed: seed, "aug-room", k)
            rirs.append(RoomImpulseResponse.generate(RoomSpec.draw(&r), sampleRate: sampleRate, seed: r.next()))
        }
        var chunks: [NoiseCategory: [[Float]]] = [:]
        chunks[.noise] = (0..<noiseCount).map { k in
            NoiseGenerator.generate([NoiseType.white, .pink, .brown][k % 3], count: n, sampleRate: sampleRate,
                                    seed: Self.subseed(seed, "aug-noise", k))
        }
        chunks[.music] = (0..<musicCount).map { k in
            NoiseGenerator.generate(.music, count: n, sampleRate: sampleRate, seed: Self.subseed(seed, "aug-music", k))
        }
        let usable = speech.filter { !$0.isEmpty }
        if !usable.isEmpty {
            chunks[.speech] = (0..<speechCount).map { k in
                var r = CorpusRandom(seed: seed, "aug-speech", k)
                var bed = [Float](repeating: 0, count: n)
                for pick in r.distinct(r.int(3...6), of: usable.count) {
                    let voice = NoiseGenerator.normalizedRMS(usable[pick])
                    let offset = r.int(0...(n - 1))
                    for i in 0..<min(voice.count, n) { bed[(offset + i) % n] += voice[i] }
                }
                return NoiseGenerator.normalizedRMS(bed)
            }
        }
        return AugmentationBank(rirs: rirs, chunks: chunks)
    }

    static func subseed(_ seed: UInt64, _ label: String, _ k: Int) -> UInt64 {
        var r = CorpusRandom(seed: seed, label, k)
        return r.next()
    }
}

/// Applies one strategy to a view, drawing from a bank.
public struct Augmenter: Sendable {
    public let bank: AugmentationBank
    public let strategy: AugmentationStrategy

    public init(bank: AugmentationBank, strategy: AugmentationStrategy) {
        self.bank = bank; self.strategy = strategy
    }

    /// What was applied to a view (for logs and tests).
    public struct Applied: Equatable, Sendable {
        public var reverb: Bool
        public var noise: NoiseCategory?
        public var snrDB: Double?
    }

    public func augment(_ x: [Float], using r: inout CorpusRandom) -> (samples: [Float], applied: Applied) {
        var reverb = false, noise = false
        switch strategy {
        case .none: break
        case .reverbNoise: reverb = true; noise = true
        case .all:
            let pick = r.int(0...3)
            reverb = pick == 1 || pick == 3; noise = pick == 2 || pick == 3
        }
        var y = x
        var applied = Applied(reverb: false, noise: nil, snrDB: nil)
        if reverb, !bank.rirs.isEmpty {
            y = Self.reverberate(y, rir: r.choice(bank.rirs))
            applied.reverb = true
        }
        let categories = NoiseCategory.allCases.filter { !(bank.chunks[$0] ?? []).isEmpty }
        if noise, !categories.isEmpty {
            let category = r.choice(categories)
            let chunk = r.choice(bank.chunks[category]!)
            let snr = r.uniform(category.snrRange.lowerBound, category.snrRange.upperBound)
            y = Self.addNoise(y, noise: Self.crop(chunk, count: y.count, using: &r), snrDB: snr)
            applied.noise = category; applied.snrDB = snr
        }
        return (y, applied)
    }

    /// Full linear convolution with the unit-energy RIR, first `x.count` samples kept.
    public static func reverberate(_ x: [Float], rir: [Float]) -> [Float] {
        let energy = rir.reduce(0.0) { $0 + Double($1) * Double($1) }
        let h = energy > 0 ? rir.map { Float(Double($0) / energy.squareRoot()) } : rir
        return SignalOps.convolveTruncated(x, h)
    }

    /// A random crop of `count` samples, wrap-padded when the chunk is shorter.
    public static func crop(_ chunk: [Float], count: Int, using r: inout CorpusRandom) -> [Float] {
        guard !chunk.isEmpty else { return [Float](repeating: 0, count: count) }
        let start = chunk.count > count ? r.int(0...(chunk.count - count)) : 0
        return (0..<count).map { chunk[(start + $0) % chunk.count] }
    }

    /// The reference's mixing: clean_dB = 10·log10(mean(x²) + 1e-4), likewise for the noise, noise scaled
    /// by sqrt(10^((clean_dB − noise_dB − SNR)/10)).
    public static func addNoise(_ x: [Float], noise: [Float], snrDB: Double) -> [Float] {
        func db(_ v: [Float]) -> Double {
            10 * log10(v.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(v.count, 1)) + 1e-4)
        }
        let g = sqrt(pow(10, (db(x) - db(noise) - snrDB) / 10))
        return (0..<x.count).map { Float(Double(x[$0]) + g * Double(noise[$0 % max(noise.count, 1)])) }
    }
}
