import Foundation
@testable import SVFeatures
import SVKernels
import Testing

/// Streaming extraction: frame t computed as audio arrives equals frame t of batch extraction of the
/// whole stream, whatever the chunking; windows are compressed and normalised like an utterance.
@Suite("StreamingFeatureExtractor")
struct StreamingExtractorTests {
    /// Speech-like test signal: a gliding harmonic tone with bursts and pauses.
    static func signal(_ count: Int, seed: UInt64 = 3) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { i in
            let t = Double(i) / 16_000
            let envelope = (i / 2_400) % 4 == 3 ? 0.01 : 0.4
            let tone = sin(2 * .pi * (140 + 60 * sin(t)) * t) + 0.5 * sin(2 * .pi * 410 * t)
            return Float(envelope * tone) + (rng.nextFloat() - 0.5) * 0.02
        }
    }

    static func configs() -> [(String, FeatureConfig)] {
        var dithered = FeatureConfig.kaldi
        dithered.dither = 1
        return FeatureConfig.presetNames.map { ($0, FeatureConfig.preset(named: $0)!) } + [("kaldi+dither", dithered)]
    }

    @Test("frames equal batch frames for any chunking", arguments: [0, 1, 2, 3, 4])
    func framesMatchBatch(_ index: Int) throws {
        let (name, config) = Self.configs()[index]
        let extractor = try FeatureExtractor(config: config)
        let samples = Self.signal(16_000 * 3 + 123)
        let batch = try extractor.extract(samples, stage: .melPower)
        let stream = StreamingFeatureExtractor(extractor: extractor, capacityFrames: batch.frames)
        var rng = SplitMix64(seed: 11)
        var start = 0
        while start < samples.count {
            let n = min(samples.count - start, 1 + Int(rng.next() % 900))
            samples[start..<(start + n)].withUnsafeBufferPointer { stream.push($0) }
            start += n
            // Every frame whose samples have all arrived is computed, and no other.
            let complete = (0..<(batch.frames + 1)).last { t in
                t == 0 || (extractor.frameStart(t - 1) + config.winLength <= start
                           && (config.padMode != .reflect || -extractor.frameStart(t - 1) < start))
            }!
            #expect(stream.framesComputed == complete, "\(name) after \(start) samples")
        }
        let frames = stream.framesComputed
        #expect(frames >= batch.frames - (config.center ? config.nFFT / 2 / config.hopLength + 1 : 0) && frames <= batch.frames)
        var window = [Float](repeating: 0, count: config.nMels * frames)
        #expect(window.withUnsafeMutableBufferPointer { stream.window(frames: frames, into: $0, stage: .melPower) })
        var worst: Float = 0
        for m in 0..<config.nMels {
            for t in 0..<frames {
                let a = batch[m, t], b = window[m * frames + t]
                worst = max(worst, abs(a - b) / max(abs(a), 1e-3))
            }
        }
        #expect(worst < 1e-5, "\(name): worst relative difference \(worst)")
    }

    @Test("a window is the batch features of its frames: compressed and normalised over the window")
    func windowIsCompressedAndNormalised() throws {
        let extractor = try FeatureExtractor(config: .speechbrain)
        let samples = Self.signal(16_000 * 5)
        let stream = StreamingFeatureExtractor(extractor: extractor, capacityFrames: 301)
        samples.withUnsafeBufferPointer { stream.push($0) }
        var window = [Float](repeating: 0, count: 80 * 301), raw = window
        #expect(window.withUnsafeMutableBufferPointer { stream.window(frames: 301, into: $0) })
        #expect(raw.withUnsafeMutableBufferPointer { stream.window(frames: 301, into: $0, stage: .melPower) })
        raw.withUnsafeMutableBufferPointer { extractor.finishWindow($0, frames: 301) }
        #expect(window == raw)
        // Mean normalisation: every mel row of the window has (near) zero mean.
        for m in 0..<80 {
            let mean = window[(m * 301)..<((m + 1) * 301)].reduce(0, +) / 301
            #expect(abs(mean) < 1e-3)
        }
        // The ring keeps only the last 301 frames: longer windows are refused, as are frames not yet computed.
        var big = [Float](repeating: 0, count: 80 * 400)
        #expect(!big.withUnsafeMutableBufferPointer { stream.window(frames: 302, into: $0) })
        let fresh = StreamingFeatureExtractor(extractor: extractor, capacityFrames: 301)
        #expect(!big.withUnsafeMutableBufferPointer { fresh.window(frames: 1, into: $0) })
    }

    @Test("non-finite samples are stored as zeros and counted")
    func nonFinite() throws {
        let extractor = try FeatureExtractor(config: .speechbrain)
        let stream = StreamingFeatureExtractor(extractor: extractor, capacityFrames: 100)
        var samples = Self.signal(8_000)
        samples[100] = .nan; samples[200] = .infinity
        samples.withUnsafeBufferPointer { stream.push($0) }
        #expect(stream.nonFiniteSamples == 2 && stream.framesComputed > 0)
        var window = [Float](repeating: 0, count: 80 * 40)
        #expect(window.withUnsafeMutableBufferPointer { stream.window(frames: 40, into: $0) })
        #expect(window.allSatisfy { $0.isFinite })
    }
}
