import Foundation

/// Energy-based voice activity detection: frames whose log energy stands clearly above the
/// recording's own noise floor count as speech, with a hangover that bridges short pauses.
///
/// The floor is a low percentile of the frame energies, so the detector adapts to each recording's
/// level; a steady signal (constant noise, hum, silence) has no frames above its own floor and gives
/// no speech. It is a heuristic for "is there enough voice here", not a phonetic segmenter.
public struct EnergyVAD: Sendable, Equatable {
    public var sampleRate: Int
    public var frameSeconds = 0.025
    public var hopSeconds = 0.010
    /// Percentile of frame energies taken as the noise floor.
    public var floorPercentile = 0.10
    /// Speech must exceed the floor by this much (dB).
    public var marginDecibels = 10.0
    /// Frames further below the loudest frame than this are never speech (dB).
    public var dynamicRangeDecibels = 50.0
    /// Frames below this absolute level are never speech (dB relative to a full-scale RMS of 1).
    public var absoluteFloorDecibels = -65.0
    /// Gaps between speech frames shorter than this are filled (seconds).
    public var hangoverSeconds = 0.2

    public init(sampleRate: Int) { self.sampleRate = sampleRate }

    /// One decision per hop: true where the frame starting there is speech.
    public func speechFrames(_ samples: [Float]) -> [Bool] {
        let frame = max(1, Int(frameSeconds * Double(sampleRate))), hop = max(1, Int(hopSeconds * Double(sampleRate)))
        guard samples.count >= frame else { return [] }
        let count = 1 + (samples.count - frame) / hop
        var energies = [Double](repeating: 0, count: count)
        for f in 0..<count {
            var sum = 0.0
            for i in (f * hop)..<(f * hop + frame) { sum += Double(samples[i]) * Double(samples[i]) }
            energies[f] = 10 * log10(max(sum / Double(frame), 1e-20))
        }
        let sorted = energies.sorted()
        let floor = sorted[min(count - 1, Int(floorPercentile * Double(count)))]
        let peak = sorted[count - 1]
        let threshold = max(floor + marginDecibels, peak - dynamicRangeDecibels, absoluteFloorDecibels)
        var speech = energies.map { $0 > threshold }
        // Hangover: fill gaps shorter than the hangover between two speech frames.
        let maxGap = Int(hangoverSeconds / hopSeconds)
        var lastSpeech: Int?
        for f in 0..<count where speech[f] {
            if let last = lastSpeech, f - last - 1 <= maxGap { for g in (last + 1)..<f { speech[g] = true } }
            lastSpeech = f
        }
        return speech
    }

    /// Seconds of speech in `samples` (speech frames × hop).
    public func speechSeconds(_ samples: [Float]) -> Double {
        Double(speechFrames(samples).filter { $0 }.count) * hopSeconds
    }
}
