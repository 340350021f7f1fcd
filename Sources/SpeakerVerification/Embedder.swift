import Foundation
@_exported import SVAudio
@_exported import SVFeatures
@_exported import SVModels
@_exported import SVScoring
import SVKernels

/// The library's version, printed by `spkv --version` and written into model files it produces.
public enum SpeakerVerification {
    public static let version = "0.1.0"
}

/// Why one recording could not be embedded; always names the recording.
public enum EmbeddingError: Error, Equatable, CustomStringConvertible {
    case audio(AudioError)
    case features(source: String, FeatureError)
    case encoder(source: String, ECAPAError)
    /// Every sample is exactly zero: there is no voice to embed (a muted or disconnected input).
    case digitalSilence(source: String, seconds: Double)

    public var description: String {
        switch self {
        case .audio(let e): return e.description
        case .features(let source, .tooFewSamples(let got, let minimum)):
            return "\(source): audio too short: \(got) samples, the front end needs at least \(minimum)"
        case .features(let source, let e): return "\(source): \(e)"
        case .encoder(let source, let e): return "\(source): \(e)"
        case .digitalSilence(let source, let seconds):
            return "\(source): all \(String(format: "%.2f", seconds)) s are digital silence (every sample is 0); check the recording or the input device"
        }
    }
}

/// Turns audio into embeddings with one model. Holds per-thread scratch memory: use one embedder
/// per thread (the model itself is shared). After the first call on the longest input, calls do not
/// allocate in the feature or encoder stages.
public final class Embedder {
    public let model: SpeakerModel
    private let featureWorkspace = FeatureWorkspace()
    private let encoderWorkspace = EncoderWorkspace()
    private var features: [Float] = []
    /// Stage times of the most recent call.
    public private(set) var lastTimings = PipelineTimings()
    /// MagNetO magnitude of the most recent call (nil for a model without a magnitude network).
    public private(set) var lastMagnitude: Float?

    public init(model: SpeakerModel) { self.model = model }

    /// Sees every int8-capable convolution's input during the following embeds (calibration of
    /// post-training quantisation); nil stops it.
    public func observeEncoderInputs(_ observer: ((String, UnsafeBufferPointer<Float>) -> Void)?) {
        encoderWorkspace.ecapa.inputObserver = observer
        encoderWorkspace.campplus.inputObserver = observer
    }

    /// Embeds mono samples at the model's sample rate. For a MagNetO model the result is `a·x̂`: the
    /// unit-length embedding times the magnitude its network predicts (see `ScoringBackend`).
    public func embed(samples: [Float], source: String = "<memory>") throws(EmbeddingError) -> [Float] {
        var out = try encoderEmbedding(samples: samples, source: source)
        lastMagnitude = nil
        if let network = model.magnitudeNetwork {
            let a = network.magnitude(pooledStatistics())
            out.withUnsafeMutableBufferPointer { MagnitudeNetwork.scale($0, by: a) }
            lastMagnitude = a
        }
        return out
    }

    /// Embeds encoder input computed elsewhere (normalised features, (n_mels, frames) row-major, e.g.
    /// a `StreamingFeatureExtractor` window) into `output` (`embeddingSize` values), scaled by the
    /// MagNetO magnitude as `embed(samples:)` does. Without a magnitude network this does not
    /// allocate once the workspace has grown to `frames`.
    public func embed(features: UnsafeBufferPointer<Float>, frames: Int, into output: UnsafeMutableBufferPointer<Float>,
                      source: String = "<stream>") throws(EmbeddingError) {
        precondition(output.count >= model.embeddingSize && features.count >= model.features.nMels * frames,
                     "Embedder.embed(features:): buffers too small")
        do {
            try model.encoder.embed(features: features.baseAddress!, frames: frames, workspace: encoderWorkspace,
                                    output: output.baseAddress!)
        } catch { throw .encoder(source: source, error) }
        lastMagnitude = nil
        guard let network = model.magnitudeNetwork else { return }
        let a = network.magnitude(pooledStatistics())
        MagnitudeNetwork.scale(UnsafeMutableBufferPointer(rebasing: output[0..<model.embeddingSize]), by: a)
        lastMagnitude = a
    }

    /// The encoder's embedding and the pooled statistics it was computed from (what its embedding layer
    /// reads: ECAPA-TDNN's after the pooling batch norm, CAM++'s mean and standard deviation): what MagNetO
    /// training reads. Never scaled by a magnitude.
    public func embeddingAndPooledStatistics(samples: [Float], source: String = "<memory>") throws(EmbeddingError)
        -> (embedding: [Float], pooled: [Float]) {
        let e = try encoderEmbedding(samples: samples, source: source)
        return (e, pooledStatistics())
    }

    /// The pooled statistics of the last embed (what the embedding layer read).
    private func pooledStatistics() -> [Float] { model.encoder.pooledStatistics(encoderWorkspace) }

    private func encoderEmbedding(samples: [Float], source: String) throws(EmbeddingError) -> [Float] {
        var out = [Float](repeating: 0, count: model.embeddingSize)
        var timings = PipelineTimings()
        timings.audioSeconds = Double(samples.count) / Double(model.features.sampleRate)
        var clock = Stopwatch()
        let config = model.features
        let frames = config.frameCount(samples: samples.count)
        guard frames > 0 else {
            throw .features(source: source, .tooFewSamples(got: samples.count, minimum: config.minimumSamples))
        }
        guard samples.contains(where: { $0 != 0 }) else {
            throw .digitalSilence(source: source, seconds: timings.audioSeconds)
        }
        if features.count < config.nMels * frames { features = [Float](repeating: 0, count: config.nMels * frames) }
        do {
            try samples.withUnsafeBufferPointer { (input) throws(FeatureError) in
                try features.withUnsafeMutableBufferPointer { (output) throws(FeatureError) in
                    _ = try model.frontEnd.extract(input, into: output, workspace: featureWorkspace)
                }
            }
        } catch { throw .features(source: source, error) }
        timings.featuresMilliseconds = clock.lap()
        do {
            try features.withUnsafeBufferPointer { (f) throws(ECAPAError) in
                try out.withUnsafeMutableBufferPointer { (o) throws(ECAPAError) in
                    try model.encoder.embed(features: f.baseAddress!, frames: frames, workspace: encoderWorkspace,
                                            output: o.baseAddress!)
                }
            }
        } catch { throw .encoder(source: source, error) }
        timings.encoderMilliseconds = clock.lap()
        lastTimings = timings
        return out
    }

    /// Reads an audio file (any format libsndfile reads; mixed to mono and resampled to the model's
    /// rate) and embeds it.
    public func embed(path: String) throws(EmbeddingError) -> [Float] {
        var clock = Stopwatch()
        let clip: AudioClip
        do { clip = try AudioFile.readMono(path: path, sampleRate: model.features.sampleRate) } catch { throw .audio(error) }
        let decode = clock.lap()
        let embedding = try embed(samples: clip.samples, source: path)
        lastTimings.decodeMilliseconds = decode
        return embedding
    }
}

/// Embeds many files on several threads, one `Embedder` each; results come back in input order.
public enum BatchEmbedding {
    /// - Parameters:
    ///   - threads: worker threads; with more than one worker, OpenBLAS runs single-threaded in each.
    ///   - progress: called after each file with (done, total), from worker threads.
    public static func embed(paths: [String], model: SpeakerModel, threads: Int,
                             progress: (@Sendable (Int, Int) -> Void)? = nil) -> [Result<[Float], EmbeddingError>] {
        let workers = max(1, min(threads, paths.count))
        let results = ResultSlots(count: paths.count)
        let next = Counter(), done = Counter()
        BLAS.withThreads(workers == 1 ? threads : 1) {
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                let embedder = Embedder(model: model)
                while true {
                    let i = next.increment() - 1
                    guard i < paths.count else { break }
                    let result: Result<[Float], EmbeddingError>
                    do throws(EmbeddingError) { result = .success(try embedder.embed(path: paths[i])) } catch { result = .failure(error) }
                    results.set(i, result)
                    progress?(done.increment(), paths.count)
                }
            }
        }
        return results.values
    }
}

/// Lock-protected result slots written by worker threads.
private final class ResultSlots: @unchecked Sendable {
    private var slots: [Result<[Float], EmbeddingError>?]
    private let lock = NSLock()
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: Result<[Float], EmbeddingError>) { lock.withLock { slots[i] = value } }
    var values: [Result<[Float], EmbeddingError>] { lock.withLock { slots.map { $0! } } }
}

private final class Counter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func increment() -> Int { lock.withLock { value += 1; return value } }
}
