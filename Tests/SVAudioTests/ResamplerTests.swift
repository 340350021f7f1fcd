import SVKernels
import Testing
import _SVTestSupport
@testable import SVAudio

/// Tone tests of the band-limited resampler. Edges are excluded from measurements: within `latency`
/// input samples of either end the zero padding outside the signal is inside the kernel.
@Suite struct ResamplerTests {
    typealias S = AudioTestSignals

    /// Pass-band accuracy limits (the design ripple is about 3e-5, i.e. 0.0003 dB).
    static let passbandGainToleranceDB = 0.1
    static let phaseToleranceRadians = 1e-3
    /// Required stop-band attenuation / image rejection (the design target is 90 dB).
    static let requiredRejectionDB = -60.0

    /// Output indices far enough from both ends to be free of edge effects.
    static func interior(_ r: Resampler, outputCount: Int) -> Range<Int> {
        let margin = Int((Double(r.latency) * Double(r.outputRate) / Double(r.inputRate)).rounded(.up)) + 2
        return margin..<(outputCount - margin)
    }

    static let ratePairs: [(Int, Int)] = [
        (44_100, 16_000), (48_000, 16_000), (22_050, 16_000), (11_025, 16_000), (8_000, 16_000),
        (16_000, 8_000), (32_000, 16_000), (16_000, 44_100), (44_100, 15_999),
    ]

    @Test("output length is round(n · out / in)", arguments: ratePairs)
    func outputLength(inRate: Int, outRate: Int) {
        let rates = (inRate, outRate)
        let r = Resampler(inputRate: rates.0, outputRate: rates.1)
        for n in [0, 1, 2, 3, 7, 100, 1_001, 4_410] {
            let expected = Int((Double(n) * Double(rates.1) / Double(rates.0)).rounded(.toNearestOrAwayFromZero))
            #expect(r.outputCount(forInputCount: n) == expected)
            #expect(r.process([Float](repeating: 0.25, count: n)).count == expected)
        }
    }

    @Test func identityWhenRatesAreEqual() {
        let x = S.tone(frequency: 440, sampleRate: 16_000, count: 1_000)
        var r = Resampler(inputRate: 16_000, outputRate: 16_000)
        #expect(r.isIdentity && r.latency == 0)
        #expect(r.process(x) == x)
        #expect(r.push(x) + r.finish() == x)
    }

    @Test("1 kHz tone keeps its amplitude (±0.1 dB) and phase", arguments: ratePairs)
    func passbandToneIsPhaseAligned(inRate: Int, outRate: Int) {
        let r = Resampler(inputRate: inRate, outputRate: outRate)
        let amplitude = 0.5, phase = 0.3
        let x = S.tone(frequency: 1_000, sampleRate: inRate, count: inRate / 4, amplitude: amplitude, phase: phase)
        let y = r.process(x)
        let range = Self.interior(r, outputCount: y.count)
        let fit = S.fitTone(y, frequency: 1_000, sampleRate: outRate, range: range)
        #expect(abs(S.decibels(fit.amplitude, relativeTo: amplitude)) < Self.passbandGainToleranceDB)
        #expect(abs(fit.phase - phase) < Self.phaseToleranceRadians)
        // Sample by sample against the analytic tone at the new rate: no delay, no distortion.
        let analytic = S.tone(frequency: 1_000, sampleRate: outRate, count: y.count, amplitude: amplitude, phase: phase)
        #expect(maxAbsDifference(y[range], analytic[range]) < 1e-3)
    }

    @Test("pass band is flat up to 0.9 × the lower Nyquist", arguments: [100.0, 3_000, 6_000, 7_100])
    func passbandFlatness(frequency: Double) {
        let r = Resampler(inputRate: 44_100, outputRate: 16_000)
        let y = r.process(S.tone(frequency: frequency, sampleRate: 44_100, count: 11_025))
        let fit = S.fitTone(y, frequency: frequency, sampleRate: 16_000, range: Self.interior(r, outputCount: y.count))
        #expect(abs(S.decibels(fit.amplitude, relativeTo: 1)) < Self.passbandGainToleranceDB)
    }

    /// Tones above the output Nyquist must not alias into the output.
    @Test("stop band ≥ 60 dB", arguments: [
        (48_000, 16_000, 9_000.0), (48_000, 16_000, 12_000), (48_000, 16_000, 20_000),
        (44_100, 16_000, 8_500), (44_100, 16_000, 13_000), (44_100, 16_000, 21_000),
        (22_050, 16_000, 9_000), (22_050, 16_000, 10_500), (16_000, 8_000, 5_000),
        (44_100, 15_999, 12_000),
    ])
    func stopbandAttenuation(inRate: Int, outRate: Int, frequency: Double) {
        let r = Resampler(inputRate: inRate, outputRate: outRate)
        let x = S.tone(frequency: frequency, sampleRate: inRate, count: inRate / 4)
        let y = r.process(x)
        let attenuation = S.decibels(S.rms(y, range: Self.interior(r, outputCount: y.count)),
                                     relativeTo: S.rms(x))
        #expect(attenuation < Self.requiredRejectionDB, "\(inRate)->\(outRate) Hz, \(frequency) Hz: \(attenuation) dB")
    }

    /// Upsampling: the spectral images of the input (above its Nyquist) must not appear in the output.
    @Test("image rejection ≥ 60 dB when upsampling", arguments: [
        (11_025, 16_000, 4_000.0), (11_025, 16_000, 1_000), (8_000, 16_000, 3_500), (22_050, 44_100, 9_000),
        (16_000, 48_000, 7_000),
    ])
    func upsamplingImageRejection(inRate: Int, outRate: Int, frequency: Double) {
        let r = Resampler(inputRate: inRate, outputRate: outRate)
        let y = r.process(S.tone(frequency: frequency, sampleRate: inRate, count: inRate / 4))
        let fit = S.fitTone(y, frequency: frequency, sampleRate: outRate, range: Self.interior(r, outputCount: y.count))
        let rejection = S.decibels(fit.residualRMS, relativeTo: fit.amplitude / 2.squareRoot())
        #expect(rejection < Self.requiredRejectionDB, "\(inRate)->\(outRate) Hz, \(frequency) Hz: \(rejection) dB")
        #expect(abs(S.decibels(fit.amplitude, relativeTo: 1)) < Self.passbandGainToleranceDB)
    }

    @Test func constantInputKeepsUnitGain() {
        for (inRate, outRate) in Self.ratePairs {
            let r = Resampler(inputRate: inRate, outputRate: outRate)
            let y = r.process([Float](repeating: 0.5, count: inRate / 10))
            let range = Self.interior(r, outputCount: y.count)
            #expect(maxAbsDifference(y[range], repeatElement(Float(0.5), count: range.count)) < 1e-4)
        }
    }

    /// A stream fed in random chunks gives exactly the whole-signal result.
    @Test("streaming equals whole-signal processing", arguments: [
        (44_100, 16_000), (11_025, 16_000), (48_000, 16_000), (44_100, 15_999),
    ])
    func streamingMatchesProcess(inRate: Int, outRate: Int) {
        let rates = (inRate, outRate)
        var rng = SplitMix64(seed: 7)
        let x = (0..<12_000).map { _ in Float.random(in: -1...1, using: &rng) }
        var stream = Resampler(inputRate: rates.0, outputRate: rates.1)
        let whole = stream.process(x)
        stream.reserveCapacity(chunkSize: 900)
        for _ in 0..<2 {  // twice: `finish` must leave the stream ready for a new signal
            var out: [Float] = []
            var i = 0
            while i < x.count {
                let n = min(x.count - i, Int.random(in: 0...900, using: &rng))
                let chunk = stream.push(Array(x[i..<(i + n)]))
                #expect(chunk.count <= stream.maxOutputCount(forInputCount: n))
                out += chunk
                i += n
            }
            out += stream.finish()
            #expect(out == whole)
        }
    }

    @Test func exactAndInterpolatedTablesAreChosenByRatio() {
        #expect(Resampler(inputRate: 44_100, outputRate: 16_000).isExactPolyphase)
        #expect(Resampler(inputRate: 44_100, outputRate: 16_000).ratio == (160, 441))
        #expect(!Resampler(inputRate: 44_100, outputRate: 15_999).isExactPolyphase)
    }
}
