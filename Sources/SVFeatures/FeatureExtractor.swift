import Foundation
import SVKernels

/// Which output `extract` returns.
public enum FeatureStage: Sendable {
    /// log-mel before the per-utterance normalisation
    case logMel
    /// after it (what the encoder consumes)
    case normalized
    /// the mel filterbank's output before log compression (what streaming extraction stores per frame)
    case melPower
}

/// Samples `samples[i]` = stream sample `offset + i` of a stream `total` samples long so far (the
/// whole utterance in batch extraction: offset 0, total = count).
struct SampleSpan {
    var samples: UnsafeBufferPointer<Float>
    var offset: Int
    var total: Int
}

/// Features of one utterance, mel-major: `values[mel · frames + t]`.
public struct FeatureMatrix: Sendable, Equatable {
    public let mels: Int
    public let frames: Int
    /// (mels, frames), row-major.
    public var values: [Float]

    public init(mels: Int, frames: Int, values: [Float]) {
        precondition(values.count == mels * frames, "FeatureMatrix: \(values.count) values for \(mels) × \(frames)")
        self.mels = mels
        self.frames = frames
        self.values = values
    }

    public subscript(mel: Int, frame: Int) -> Float { values[mel * frames + frame] }

    /// (frames, mels), row-major — the layout of torchaudio.compliance.kaldi.fbank and speechbrain.
    public func transposed() -> [Float] {
        var out = [Float](repeating: 0, count: values.count)
        for m in 0..<mels { for t in 0..<frames { out[t * mels + m] = values[m * frames + t] } }
        return out
    }
}

/// Per-stream scratch for `FeatureExtractor.extract(_:stage:into:workspace:)`. Buffers grow to the
/// longest utterance seen and are then reused, so steady-state extraction does not allocate.
/// Not thread-safe: one workspace per thread or stream.
public final class FeatureWorkspace {
    typealias V = SIMD8<Double>
    fileprivate var fft: UnsafeMutablePointer<V>
    fileprivate var fftVectors = 0
    fileprivate var frame: [Float] = []
    fileprivate var spectrum: [Float] = []
    /// Seed of the dither noise (only used when the config's dither is non-zero); each call restarts it.
    public var ditherSeed: UInt64 = 0x5EED

    public init() { fft = .allocate(capacity: 1) }

    deinit { fft.deallocate() }

    fileprivate func reserve(fftVectors count: Int, frameLength: Int, spectrumValues: Int) {
        if fftVectors < count {
            fft.deallocate()
            fft = .allocate(capacity: count)
            fftVectors = count
        }
        if frame.count < frameLength { frame = [Float](repeating: 0, count: frameLength) }
        if spectrum.count < spectrumValues { spectrum = [Float](repeating: 0, count: spectrumValues) }
    }
}

/// A log-mel front end for one `FeatureConfig`. Its tables (window, FFT twiddles, filterbank) are
/// immutable, so one extractor can be shared by many threads, each with its own workspace.
public final class FeatureExtractor: @unchecked Sendable {
    public let config: FeatureConfig
    /// win_length values.
    public let window: [Float]
    /// (n_mels, n_fft/2 + 1), row-major; stored in model files as `features.mel_fbank`.
    public var melFilterbank: [Float] { filterbank.weights }
    public let filterbank: MelFilterbank
    private let fft: RealFFT
    private let fbank: AlignedBuffer

    /// Builds the window and filterbank from the config.
    public convenience init(config: FeatureConfig) throws(FeatureError) {
        try config.validate()
        let filterbank = try MelFilterbank(config: config)
        try self.init(config: config, melFilterbank: filterbank.weights,
                      window: config.window.values(length: config.winLength, periodic: config.windowPeriodic))
    }

    /// Uses tables loaded from a model file (`features.mel_fbank`, `features.window`).
    public init(config: FeatureConfig, melFilterbank: [Float], window: [Float]) throws(FeatureError) {
        try config.validate()
        guard window.count == config.winLength else {
            throw .tableShapeMismatch(table: "features.window", expected: config.winLength, actual: window.count)
        }
        if let bad = window.firstIndex(where: { !$0.isFinite }) { throw .nonFiniteTable(table: "features.window", index: bad) }
        self.config = config
        self.window = window
        filterbank = try MelFilterbank(nMels: config.nMels, bins: config.bins, weights: melFilterbank)
        fbank = AlignedBuffer(melFilterbank)
        fft = RealFFT(n: config.nFFT)
    }

    /// Convenience: features of `samples` (mono, at `config.sampleRate`) in a new matrix.
    public func extract(_ samples: [Float], stage: FeatureStage = .normalized) throws(FeatureError) -> FeatureMatrix {
        let frames = config.frameCount(samples: samples.count)
        guard frames > 0 else { throw .tooFewSamples(got: samples.count, minimum: config.minimumSamples) }
        var values = [Float](repeating: 0, count: config.nMels * frames)
        let workspace = FeatureWorkspace()
        _ = try samples.withUnsafeBufferPointer { (input) throws(FeatureError) -> Int in
            try values.withUnsafeMutableBufferPointer { (output) throws(FeatureError) -> Int in
                try extract(input, stage: stage, into: output, workspace: workspace)
            }
        }
        return FeatureMatrix(mels: config.nMels, frames: frames, values: values)
    }

    /// Writes the features of `samples` to `output` as (n_mels, frames) row-major and returns the
    /// frame count (`config.frameCount(samples:)`). Allocates only while `workspace` grows.
    @discardableResult
    public func extract(_ samples: UnsafeBufferPointer<Float>, stage: FeatureStage = .normalized,
                        into output: UnsafeMutableBufferPointer<Float>,
                        workspace: FeatureWorkspace) throws(FeatureError) -> Int {
        let c = config
        let frames = c.frameCount(samples: samples.count)
        guard frames > 0 else { throw .tooFewSamples(got: samples.count, minimum: c.minimumSamples) }
        guard output.count >= c.nMels * frames else {
            throw .outputTooSmall(needed: c.nMels * frames, got: output.count)
        }
        if let bad = samples.firstIndex(where: { !$0.isFinite }) { throw .nonFiniteSample(index: bad) }

        let bins = c.bins
        workspace.reserve(fftVectors: 4 * fft.m, frameLength: c.winLength, spectrumValues: frames * bins)
        var rng = SplitMix64(seed: workspace.ditherSeed)
        workspace.spectrum.withUnsafeMutableBufferPointer { spectrum in
            spectra(frames: 0..<frames, samples: SampleSpan(samples: samples, offset: 0, total: samples.count),
                    workspace: workspace, rng: &rng, into: spectrum.baseAddress!)
            // (n_mels, frames) = fbank (n_mels, bins) · spectrumᵀ (bins, frames)
            gemm(.none, .transposed, m: c.nMels, n: frames, k: bins, a: fbank.pointer, lda: bins,
                 b: spectrum.baseAddress!, ldb: bins, c: output.baseAddress!, ldc: frames)
        }
        let values = UnsafeMutableBufferPointer(rebasing: output[0..<(c.nMels * frames)])
        guard stage != .melPower else { return frames }
        compress(values)
        if stage == .normalized { normalize(values, frames: frames) }
        return frames
    }

    /// Mel energies of frames laid out (frames, n_mels) row-major: the transpose of the `.melPower`
    /// stage, computed frame by frame for streaming. `workspace` must have been reserved for
    /// `frames.count` spectra (`reserveStreaming`).
    func melPowerRows(frames: Range<Int>, samples: SampleSpan, workspace: FeatureWorkspace, rng: inout SplitMix64,
                      into rows: UnsafeMutablePointer<Float>) {
        let bins = config.bins
        workspace.spectrum.withUnsafeMutableBufferPointer { spectrum in
            spectra(frames: frames, samples: samples, workspace: workspace, rng: &rng, into: spectrum.baseAddress!)
            // (frames, n_mels) = spectrum (frames, bins) · fbankᵀ (bins, n_mels)
            gemm(.none, .transposed, m: frames.count, n: config.nMels, k: bins, a: spectrum.baseAddress!, lda: bins,
                 b: fbank.pointer, ldb: bins, c: rows, ldc: config.nMels)
        }
    }

    func reserveStreaming(_ workspace: FeatureWorkspace, frames: Int) {
        workspace.reserve(fftVectors: 4 * fft.m, frameLength: config.winLength, spectrumValues: frames * config.bins)
    }

    /// Power (or magnitude) spectra of `frames`, `bins` values per frame, RealFFT.lanes frames per FFT.
    private func spectra(frames: Range<Int>, samples: SampleSpan, workspace: FeatureWorkspace, rng: inout SplitMix64,
                         into spectrum: UnsafeMutablePointer<Float>) {
        let m = fft.m, bins = config.bins
        let re = workspace.fft, im = re + m, tmpRe = re + 2 * m, tmpIm = re + 3 * m
        workspace.frame.withUnsafeMutableBufferPointer { frame in
            for first in stride(from: frames.lowerBound, to: frames.upperBound, by: RealFFT.lanes) {
                let lanes = min(RealFFT.lanes, frames.upperBound - first)
                re.update(repeating: .zero, count: 2 * m)
                for lane in 0..<lanes {
                    prepareFrame(first + lane, samples, frame, &rng)
                    scatter(frame, lane: lane, re: re, im: im)
                }
                fft.complexForward(re: re, im: im, tmpRe: tmpRe, tmpIm: tmpIm)
                fft.spectrum(re: re, im: im, power: config.power, validLanes: lanes,
                             out: spectrum + (first - frames.lowerBound) * bins, stride: bins)
            }
        }
    }

    /// Log compression and normalisation over `frames` frames of mel energies laid out (n_mels, frames):
    /// the last steps of `.normalized` extraction, for windows taken from a stream.
    public func finishWindow(_ values: UnsafeMutableBufferPointer<Float>, frames: Int) {
        precondition(values.count == config.nMels * frames, "finishWindow: \(values.count) values for \(frames) frames")
        compress(values)
        normalize(values, frames: frames)
    }

    /// First sample of frame t (negative inside the left padding of centred framing).
    func frameStart(_ t: Int) -> Int {
        config.center ? t * config.hopLength - config.nFFT / 2 + config.windowOffset : t * config.hopLength
    }

    // MARK: - Per-frame time-domain processing (float32, in the reference's order)

    /// The windowed frame t (win_length values) in `frame`. Float arithmetic on purpose: the
    /// references do these steps in float32 and their rounding is part of what we match.
    @inline(__always)
    private func prepareFrame(_ t: Int, _ span: SampleSpan, _ frame: UnsafeMutableBufferPointer<Float>,
                              _ rng: inout SplitMix64) {
        let c = config, n = span.total, win = c.winLength, x = span.samples, offset = span.offset
        let start = frameStart(t)
        if start >= 0 && start + win <= n {
            for j in 0..<win { frame[j] = x[start - offset + j] }
        } else {
            for j in 0..<win {
                var s = start + j
                if s < 0 || s >= n {
                    guard c.padMode == .reflect else { frame[j] = 0; continue }
                    s = s < 0 ? -s : 2 * (n - 1) - s
                }
                frame[j] = x[s - offset]
            }
        }
        if c.waveformScale != 1 {
            let scale = Float(c.waveformScale)
            for j in 0..<win { frame[j] *= scale }
        }
        if c.dither > 0 {
            let d = Float(c.dither)
            for j in 0..<win { frame[j] += d * Self.gaussian(&rng) }
        }
        if c.removeDC {
            var sum = 0.0
            for j in 0..<win { sum += Double(frame[j]) }
            let mean = Float(sum / Double(win))
            for j in 0..<win { frame[j] -= mean }
        }
        if c.preemphasis != 0 {
            let k = Float(c.preemphasis)
            for j in stride(from: win - 1, to: 0, by: -1) { frame[j] = frame[j] - k * frame[j - 1] }
            frame[0] = frame[0] - k * frame[0]
        }
        window.withUnsafeBufferPointer { w in
            for j in 0..<win { frame[j] *= w[j] }
        }
    }

    /// Puts the frame at offset windowOffset of the n_fft frame, packed as z[i] = x[2i] + i·x[2i+1].
    @inline(__always)
    private func scatter(_ frame: UnsafeMutableBufferPointer<Float>, lane: Int,
                         re: UnsafeMutablePointer<SIMD8<Double>>, im: UnsafeMutablePointer<SIMD8<Double>>) {
        let reRaw = UnsafeMutableRawPointer(re), imRaw = UnsafeMutableRawPointer(im)
        let offset = config.windowOffset, stride = MemoryLayout<Double>.stride
        for j in 0..<config.winLength {
            let n = offset + j
            let byteOffset = ((n >> 1) * RealFFT.lanes + lane) * stride
            (n & 1 == 0 ? reRaw : imRaw).storeBytes(of: Double(frame[j]), toByteOffset: byteOffset, as: Double.self)
        }
    }

    private static func gaussian(_ rng: inout SplitMix64) -> Float {
        let u1 = max(Double(rng.next() >> 11) / Double(1 << 53), .leastNormalMagnitude)
        let u2 = Double(rng.next() >> 11) / Double(1 << 53)
        return Float((-2 * Foundation.log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    // MARK: - Log compression and normalisation

    func compress(_ v: UnsafeMutableBufferPointer<Float>) {
        let floor = config.logFloor
        switch config.log {
        case .lnAdd:
            for i in v.indices { v[i] = Float(Foundation.log(Double(v[i]) + floor)) }
        case .lnFloor:
            for i in v.indices { v[i] = Float(Foundation.log(max(Double(v[i]), floor))) }
        case .decibel:
            let multiplier = config.power == 2 ? 10.0 : 20.0
            var peak = -Float.infinity
            for i in v.indices {
                v[i] = Float(multiplier * log10(max(Double(v[i]), floor)))
                peak = max(peak, v[i])
            }
            if let topDB = config.topDB {
                let low = peak - Float(topDB)
                for i in v.indices { v[i] = max(v[i], low) }
            }
        }
    }

    func normalize(_ v: UnsafeMutableBufferPointer<Float>, frames: Int) {
        guard config.normalization != .none else { return }
        let count = Double(frames)
        for m in 0..<config.nMels {
            let row = UnsafeMutableBufferPointer(rebasing: v[(m * frames)..<((m + 1) * frames)])
            var sum = 0.0
            for x in row { sum += Double(x) }
            let mean = sum / count
            var scale = 1.0
            if config.normalization == .meanVariance {
                var squares = 0.0
                for x in row { let d = Double(x) - mean; squares += d * d }
                scale = 1 / (squares / count + config.normEps).squareRoot()
            }
            for i in row.indices { row[i] = Float((Double(row[i]) - mean) * scale) }
        }
    }
}
