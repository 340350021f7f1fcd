import Foundation
import Testing
@testable import SVCorpus

@Suite struct SignalTests {
    @Test(arguments: [0.15, 0.2, 0.45, 0.7, 1.0], [false, true])
    func rirHasUnitEnergyAndItsRT60(rt60: Double, small: Bool) {
        let room = small
            ? RoomSpec(dimensions: [3, 3, 2.4], rt60: rt60, source: [1, 1, 1.2], microphone: [1.4, 1.3, 1.2], distance: 0.5)
            : RoomSpec(dimensions: [7, 5, 3], rt60: rt60, source: [2, 2, 1.5], microphone: [4.5, 3, 1.4], distance: 2.7)
        let h = RoomImpulseResponse.generate(room, seed: 42)
        let energy = h.reduce(0.0) { $0 + Double($1) * Double($1) }
        #expect(abs(energy - 1) < 1e-4)
        #expect(h.count == Int(rt60 * 16_000) + 1)  // truncated at the 60 dB point
        let estimate = RoomImpulseResponse.estimateRT60(h)
        #expect(abs(estimate - rt60) / rt60 < 0.15, "RT60 \(rt60) estimated as \(estimate)")
        #expect(h.firstIndex { $0 != 0 } == 0)  // direct path first, propagation delay removed
        #expect(RoomImpulseResponse.generate(room, seed: 42) == h)
    }

    @Test func snrMixingIsExact() {
        var r = CorpusRandom(seed: 1, "sig")
        let signal = (0..<16_000).map { i in Float(0.3 * sin(Double(i) * 0.05) + 0.01 * r.normal()) }
        for type in [NoiseType.white, .pink, .brown, .music] {
            let noise = NoiseGenerator.generate(type, count: 16_000, seed: 7)
            #expect(abs(NoiseGenerator.rms(noise) - 1) < 1e-4)
            for snr in [0.0, 7.5, 30] {
                let mixed = NoiseGenerator.mix(signal: signal, noise: noise, snrDB: snr)
                let added = zip(mixed, signal).map { Double($0) - Double($1) }
                let pn = added.reduce(0) { $0 + $1 * $1 }, ps = signal.reduce(0.0) { $0 + Double($1) * Double($1) }
                #expect(abs(10 * log10(ps / pn) - snr) < 0.01, "\(type) at \(snr) dB")
            }
        }
    }

    @Test func noiseColoursHaveTheirSlopes() {
        // Power in 100–200 Hz against 3.2–6.4 kHz: white ≈ 0 dB per octave, pink ≈ −3, brown ≈ −6.
        func bandRatioDB(_ x: [Float]) -> Double {
            var re = x.prefix(32_768).map(Double.init), im = [Double](repeating: 0, count: 32_768)
            SignalOps.fft(&re, &im, inverse: false)
            func band(_ lo: Double, _ hi: Double) -> Double {
                let a = Int(lo / 16_000 * 32_768), b = Int(hi / 16_000 * 32_768)
                return (a..<b).reduce(0) { $0 + re[$1] * re[$1] + im[$1] * im[$1] } / Double(b - a)
            }
            return 10 * log10(band(100, 200) / band(3_200, 6_400)) / 5  // dB per octave (5 octaves apart)
        }
        let white = bandRatioDB(NoiseGenerator.generate(.white, count: 32_768, seed: 3))
        let pink = bandRatioDB(NoiseGenerator.generate(.pink, count: 32_768, seed: 3))
        let brown = bandRatioDB(NoiseGenerator.generate(.brown, count: 32_768, seed: 3))
        #expect(abs(white) < 0.5)
        #expect(abs(pink - 3) < 0.7)
        #expect(brown > 4.5)
    }

    @Test func fftConvolutionMatchesDirect() {
        var r = CorpusRandom(seed: 4, "conv")
        let x = (0..<300).map { _ in Float(r.normal()) }, h = (0..<37).map { _ in Float(r.normal()) }
        let fast = SignalOps.convolveTruncated(x, h)
        for n in 0..<x.count {
            var direct = 0.0
            for k in 0..<h.count where n - k >= 0 { direct += Double(x[n - k]) * Double(h[k]) }
            #expect(abs(Double(fast[n]) - direct) < 1e-3)
        }
    }

    @Test func trimmingAndLevels() {
        let silence = [Float](repeating: 0, count: 8_000)
        let tone = (0..<16_000).map { Float(0.5 * sin(Double($0) * 0.1)) }
        let trimmed = SignalOps.trimSilence(silence + tone + silence)
        #expect(trimmed.count >= 16_000 && trimmed.count <= 16_000 + 2 * 1_600 + 320)
        #expect(abs(SignalOps.peak(SignalOps.normalizePeak(tone, dBFS: -6)) - 0.501187) < 1e-4)
        let clipped = SignalOps.softClip(tone, driveDB: 12)
        #expect(SignalOps.peak(clipped) <= 0.98)
    }
}
