import Foundation
import SVAutograd
import SVKernels
import SpeakerVerification

/// Times optimisation steps (forward, backward, Adam) of a configuration on random features of the
/// configured crop length, without data loading: the number to compare with the same step in
/// PyTorch (`tools/reference/training_throughput.py`). Printed, never asserted.
public enum TrainingStepBenchmark {
    public struct Result: Codable, Sendable {
        public let method: String
        public let channels: Int
        public let batchSize: Int
        public let cropSeconds: Double
        public let threads: Int
        /// Milliseconds per step.
        public let step: SampleStatistics
        /// Seconds of audio (all views) per second of wall time, from the median step.
        public let audioSecondsPerSecond: Double
        public let peakResidentBytes: Int?
    }

    public static func run(config: TrainingConfig, speakers: Int = 100, warmup: Int = 2, steps: Int = 10) -> Result {
        BLAS.withThreads(config.threads) { measure(config: config, speakers: speakers, warmup: warmup, steps: steps) }
    }

    static func measure(config: TrainingConfig, speakers: Int, warmup: Int, steps: Int) -> Result {
        let n = config.batchSize, mels = config.model.inputSize
        var rng = SplitMix64(seed: config.seed)
        // Reference-guided SSPS and distillation look their rows up in tables: random unit rows of the frozen model's
        // width stand in (a lookup costs the same whatever the values).
        func randomTable(_ modelPath: String) -> FrozenEmbeddingTable {
            let d = (try? SpeakerModel.load(path: modelPath))?.embeddingSize ?? 192
            let rows = Tensor(shape: [n, d], uniform: -1, 1, rng: &rng).values
            return FrozenEmbeddingTable(dimension: d, modelChecksum: "", rows: SphericalKMeans.normalizedRows(rows, count: n, dimension: d),
                                        fromCache: false)
        }
        let table = config.ssps.enabled && config.ssps.usesReferenceModel ? randomTable(config.ssps.referenceModel) : nil
        let teacher = config.distill.isEnabled ? randomTable(config.distill.teacherModel) : nil
        let stepper = TrainingStep(config: config, speakerCount: speakers, referenceCapacity: config.batchSize, references: table,
                                   teacher: teacher)
        let lengths = config.viewSamples
        let views = lengths.map { Tensor(shape: [n, mels, config.featureConfig.frameCount(samples: $0)], uniform: -1, 1, rng: &rng) }
        // SSPS steps also embed the clean reference crops (and, with knn, draw from the queues).
        let reference = config.ssps.enabled && table == nil
            ? Tensor(shape: [n, mels, config.featureConfig.frameCount(samples: config.referenceSamples)], uniform: -1, 1, rng: &rng) : nil
        let batch = TrainingBatch(views: views, labels: (0..<n).map { $0 % speakers }, indices: Array(0..<n), reference: reference,
                                  audioSeconds: Double(n * lengths.reduce(0, +)) / Double(config.featureConfig.sampleRate))
        for _ in 0..<warmup { _ = stepper.step(batch) }
        var times: [Double] = []
        for _ in 0..<steps {
            let clock = Stopwatch()
            _ = stepper.step(batch)
            times.append(clock.milliseconds)
        }
        let stats = SampleStatistics(times)
        return Result(method: config.method.rawValue, channels: config.model.blockChannels, batchSize: n,
                      cropSeconds: config.method.isDINO ? config.dinoGlobalSeconds : config.cropSeconds, threads: config.threads, step: stats,
                      audioSecondsPerSecond: batch.audioSeconds / (stats.median / 1000), peakResidentBytes: peakResidentBytes())
    }
}
