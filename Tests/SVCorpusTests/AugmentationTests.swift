import Foundation
import Testing
@testable import SVCorpus

@Suite struct AugmentationTests {
    static let speech: [[Float]] = (0..<5).map { k in (0..<12_000).map { Float(sin(Double($0) * 0.02 * Double(k + 1))) } }
    static let bank = AugmentationBank.generate(seed: 1, rirCount: 4, noiseCount: 3, musicCount: 2, speechCount: 2,
                                                speech: speech, chunkSeconds: 1)

    @Test func bankIsGeneratedDeterministically() {
        let again = AugmentationBank.generate(seed: 1, rirCount: 4, noiseCount: 3, musicCount: 2, speechCount: 2,
                                              speech: Self.speech, chunkSeconds: 1)
        #expect(again.rirs == Self.bank.rirs && again.chunks == Self.bank.chunks)
        for h in Self.bank.rirs { #expect(abs(h.reduce(0.0) { $0 + Double($1) * Double($1) } - 1) < 1e-4) }
        #expect(Self.bank.chunks[.speech]?.count == 2 && Self.bank.chunks[.music]?.count == 2)
        #expect(AugmentationBank.generate(seed: 1, rirCount: 1, noiseCount: 1, musicCount: 1, chunkSeconds: 1).chunks[.speech] == nil)
    }

    @Test func strategiesApplyWhatTheReferenceDoes() {
        let x = (0..<8_000).map { Float(0.3 * sin(Double($0) * 0.05)) }
        let every = Augmenter(bank: Self.bank, strategy: .reverbNoise)
        var counts: [String: Int] = [:]
        for k in 0..<200 {
            var r = CorpusRandom(seed: 2, "view", k)
            let (y, a) = every.augment(x, using: &r)
            #expect(y.count == x.count && a.reverb && a.noise != nil)
            if let c = a.noise, let snr = a.snrDB { #expect(c.snrRange.contains(snr)) }
            var r2 = CorpusRandom(seed: 2, "all", k)
            let b = Augmenter(bank: Self.bank, strategy: .all).augment(x, using: &r2).applied
            counts["\(b.reverb)-\(b.noise != nil)", default: 0] += 1
        }
        #expect(counts.count == 4 && counts.values.allSatisfy { $0 > 30 })  // ¼ each
        var r = CorpusRandom(seed: 3, "none")
        #expect(Augmenter(bank: Self.bank, strategy: .none).augment(x, using: &r).samples == x)
    }

    @Test func noiseIsMixedWithTheReferenceFormula() {
        let x = (0..<4_000).map { Float(0.5 * sin(Double($0) * 0.1)) }
        let n = NoiseGenerator.generate(.white, count: 4_000, seed: 5)
        let y = Augmenter.addNoise(x, noise: n, snrDB: 10)
        func db(_ v: [Float]) -> Double { 10 * log10(v.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(v.count) + 1e-4) }
        let g = sqrt(pow(10, (db(x) - db(n) - 10) / 10))
        for i in stride(from: 0, to: 4_000, by: 97) { #expect(abs((Double(y[i]) - Double(x[i])) - g * Double(n[i])) < 1e-5) }
        #expect(abs(10 * log10(pow(NoiseGenerator.rms(x), 2) / pow(g * NoiseGenerator.rms(n), 2)) - 10) < 0.01)
        var r = CorpusRandom(seed: 1, "crop")
        #expect(Augmenter.crop([1, 2, 3], count: 7, using: &r) == [1, 2, 3, 1, 2, 3, 1])
    }
}
