import Foundation
import SVKernels

/// Deterministic speech-like test audio for benchmarks: a glottal pulse train with a wandering
/// pitch through three moving formant resonators, syllable-rate amplitude modulation and a little
/// noise. Compute time does not depend on the content, but silence or pure tones would let a
/// front end take unusual paths.
public enum BenchmarkSignal {
    public static func speechLike(seconds: Double, sampleRate: Int = 16_000, seed: UInt64 = 1) -> [Float] {
        var rng = SplitMix64(seed: seed)
        let n = Int(seconds * Double(sampleRate)), fs = Double(sampleRate)
        var out = [Float](repeating: 0, count: n)
        var phase = 0.0
        // Two-pole resonator states per formant.
        var y1 = [0.0, 0.0, 0.0], y2 = [0.0, 0.0, 0.0]
        for i in 0..<n {
            let t = Double(i) / fs
            let f0 = 120 + 30 * sin(2 * .pi * 0.7 * t) + 10 * sin(2 * .pi * 3.1 * t)
            phase += f0 / fs
            var excitation = 0.0
            if phase >= 1 { phase -= 1; excitation = 1 }
            excitation += 0.02 * (Double(rng.nextFloat()) - 0.5)
            let formants = [500 + 200 * sin(2 * .pi * 1.3 * t), 1500 + 400 * sin(2 * .pi * 0.9 * t), 2500.0]
            var sample = 0.0
            for k in 0..<3 {
                let r = 0.97, theta = 2 * .pi * formants[k] / fs
                let y = excitation + 2 * r * cos(theta) * y1[k] - r * r * y2[k]
                y2[k] = y1[k]; y1[k] = y
                sample += y / Double(k + 1)
            }
            let envelope = 0.55 + 0.45 * sin(2 * .pi * 4 * t)
            out[i] = Float(0.02 * envelope * sample)
        }
        return out
    }
}

/// Repeated timing of the embedding pipeline on one model.
public struct PipelineBenchmark {
    public struct Report: Sendable, Codable {
        public let seconds: Double
        public let threads: Int
        public let repeats: Int
        public let featuresMilliseconds: SampleStatistics
        public let encoderMilliseconds: SampleStatistics
        public let totalMilliseconds: SampleStatistics
        public let realTimeFactor: Double
        public let encoderGFLOPS: Double
        public let peakResidentBytes: Int?
    }

    public static func run(model: SpeakerModel, seconds: Double, threads: Int, repeats: Int,
                           warmup: Int = 2) throws(EmbeddingError) -> Report {
        try BLAS.withThreads(threads) { () throws(EmbeddingError) in
            try measure(model: model, seconds: seconds, threads: threads, repeats: repeats, warmup: warmup)
        }
    }

    static func measure(model: SpeakerModel, seconds: Double, threads: Int, repeats: Int, warmup: Int) throws(EmbeddingError) -> Report {
        let embedder = Embedder(model: model)
        var audio = BenchmarkSignal.speechLike(seconds: seconds, sampleRate: model.features.sampleRate)
        var features: [Double] = [], encoder: [Double] = [], total: [Double] = []
        for i in 0..<(warmup + repeats) {
            // Change one sample per run so no stage can be hoisted or cached across runs.
            audio[i % audio.count] += 1e-6
            _ = try embedder.embed(samples: audio)
            guard i >= warmup else { continue }
            let t = embedder.lastTimings
            features.append(t.featuresMilliseconds); encoder.append(t.encoderMilliseconds); total.append(t.totalMilliseconds)
        }
        let enc = SampleStatistics(encoder), tot = SampleStatistics(total)
        let frames = model.features.frameCount(samples: audio.count)
        let flops = 2 * Double(model.encoder.multiplyAccumulates(frames: frames))
        return Report(seconds: seconds, threads: threads, repeats: repeats,
                      featuresMilliseconds: SampleStatistics(features), encoderMilliseconds: enc,
                      totalMilliseconds: tot, realTimeFactor: tot.median / 1000 / seconds,
                      encoderGFLOPS: flops / (enc.median / 1000) / 1e9, peakResidentBytes: peakResidentBytes())
    }
}
