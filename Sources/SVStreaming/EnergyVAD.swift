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

    /// Samples per analysis frame and per hop.
    public var frameSamples: Int { max(1, Int(frameSeconds * Double(sampleRate))) }
    public var hopSamples: Int { max(1, Int(hopSeconds * Double(sampleRate))) }

    /// Log energy (dB) of `frameSamples` samples starting at `start`.
    public func frameEnergy(_ start: UnsafePointer<Float>) -> Double {
        let frame = frameSamples
        var sum = 0.0
        for i in 0..<frame { sum += Double(start[i]) * Double(start[i]) }
        return 10 * log10(max(sum / Double(frame), 1e-20))
    }

    /// One decision per hop: true where the frame starting there is speech.
    public func speechFrames(_ samples: [Float]) -> [Bool] {
        let frame = frameSamples, hop = hopSamples
        guard samples.count >= frame else { return [] }
        let count = 1 + (samples.count - frame) / hop
        var energies = [Double](repeating: 0, count: count)
        samples.withUnsafeBufferPointer { x in
            for f in 0..<count { energies[f] = frameEnergy(x.baseAddress! + f * hop) }
        }
        var scratch = energies
        var speech = [Bool](repeating: false, count: count)
        energies.withUnsafeBufferPointer { e in
            scratch.withUnsafeMutableBufferPointer { s in
                speech.withUnsafeMutableBufferPointer { _ = classify(energies: e, scratch: s, speech: $0) }
            }
        }
        return speech
    }

    /// Speech decisions for frame energies (dB): the floor is their `floorPercentile` quantile.
    /// Writes `speech` (same count) and returns how many frames are speech. Does not allocate:
    /// `scratch` (same count) is overwritten.
    public func classify(energies: UnsafeBufferPointer<Double>, scratch: UnsafeMutableBufferPointer<Double>,
                         speech: UnsafeMutableBufferPointer<Bool>) -> Int {
        let count = energies.count
        guard count > 0 else { return 0 }
        precondition(scratch.count >= count && speech.count >= count, "EnergyVAD.classify: buffers too small")
        var peak = -Double.infinity
        for f in 0..<count { scratch[f] = energies[f]; peak = max(peak, energies[f]) }
        let floor = Self.select(min(count - 1, Int(floorPercentile * Double(count))),
                                in: UnsafeMutableBufferPointer(rebasing: scratch[0..<count]))
        let threshold = max(floor + marginDecibels, peak - dynamicRangeDecibels, absoluteFloorDecibels)
        for f in 0..<count { speech[f] = energies[f] > threshold }
        // Hangover: fill gaps shorter than the hangover between two speech frames.
        let maxGap = Int(hangoverSeconds / hopSeconds)
        var lastSpeech: Int?
        var total = 0
        for f in 0..<count where speech[f] {
            if let last = lastSpeech, f - last - 1 <= maxGap { for g in (last + 1)..<f { speech[g] = true } }
            lastSpeech = f
        }
        for f in 0..<count where speech[f] { total += 1 }
        return total
    }

    /// The k-th smallest value (0-based) by quickselect, reordering `values`; no allocation.
    static func select(_ k: Int, in values: UnsafeMutableBufferPointer<Double>) -> Double {
        var low = 0, high = values.count - 1
        while low < high {
            let pivot = values[(low + high) / 2]
            var i = low, j = high
            while i <= j {
                while values[i] < pivot { i += 1 }
                while values[j] > pivot { j -= 1 }
                if i <= j { values.swapAt(i, j); i += 1; j -= 1 }
            }
            if k <= j { high = j } else if k >= i { low = i } else { break }
        }
        return values[k]
    }

    /// Seconds of speech in `samples` (speech frames × hop).
    public func speechSeconds(_ samples: [Float]) -> Double {
        Double(speechFrames(samples).filter { $0 }.count) * hopSeconds
    }
}
