import Foundation
import Testing
import SVKernels
@testable import SVStreaming

@Suite struct EnergyVADTests {
    static let rate = 16_000

    /// `seconds` of a 200 Hz tone with harmonics at `level`, in low-level white noise.
    static func signal(silence1: Double, voice: Double, silence2: Double, noiseLevel: Float = 0.001) -> [Float] {
        var rng = SplitMix64(seed: 5)
        let n1 = Int(silence1 * Double(rate)), n2 = Int(voice * Double(rate)), n3 = Int(silence2 * Double(rate))
        return (0..<(n1 + n2 + n3)).map { i in
            let noise = (rng.nextFloat() - 0.5) * 2 * noiseLevel
            guard i >= n1 && i < n1 + n2 else { return noise }
            let t = Float(i) / Float(rate)
            return noise + 0.3 * sin(2 * .pi * 200 * t) + 0.1 * sin(2 * .pi * 600 * t)
        }
    }

    @Test func voiceBetweenQuietStretchesIsMeasured() {
        let vad = EnergyVAD(sampleRate: Self.rate)
        let seconds = vad.speechSeconds(Self.signal(silence1: 1, voice: 2, silence2: 1))
        // 2 s of voice; frames straddling the edges may count, ±3 frames.
        #expect(abs(seconds - 2) <= 0.03, "measured \(seconds) s")
    }

    @Test func steadyNoiseAndDigitalSilenceHaveNoSpeech() {
        let vad = EnergyVAD(sampleRate: Self.rate)
        #expect(vad.speechSeconds(Self.signal(silence1: 3, voice: 0, silence2: 0, noiseLevel: 0.05)) == 0)
        #expect(vad.speechSeconds([Float](repeating: 0, count: 32_000)) == 0)
        #expect(vad.speechSeconds([Float](repeating: 0, count: 100)) == 0)
    }

    @Test func shortPausesAreBridged() {
        // Two 1 s bursts 0.1 s apart count as one stretch including the pause.
        let a = Self.signal(silence1: 0.5, voice: 1, silence2: 0.1)
        let b = Self.signal(silence1: 0, voice: 1, silence2: 0.5)
        let seconds = EnergyVAD(sampleRate: Self.rate).speechSeconds(a + b)
        #expect(abs(seconds - 2.1) <= 0.03, "measured \(seconds) s")
    }
}
