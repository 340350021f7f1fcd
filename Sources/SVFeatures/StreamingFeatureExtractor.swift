import Foundation
import SVKernels

/// Log-mel features computed incrementally as audio arrives, for live verification.
///
/// `push` frames the new samples as soon as each frame is complete and keeps the mel energies
/// (before log compression) of the most recent `capacityFrames` frames in a ring. Frame t is
/// exactly frame t of batch extraction of the whole stream (same framing, padding at the stream
/// start, dither sequence, FFT); frames that batch extraction would pad at the end are simply not
/// computed yet. `window` turns the last W frames into encoder input: log compression (with
/// `top_db` relative to the window's loudest value) and normalisation over the window, as batch
/// extraction does over an utterance.
///
/// Nothing allocates after `init` (pushes of any size are processed in bounded pieces).
/// Not thread-safe: one producer calls `push`; `window` must run on the same thread (or under the
/// caller's lock).
public final class StreamingFeatureExtractor {
    public let extractor: FeatureExtractor
    /// Frames kept in the ring (the longest window `window` can return).
    public let capacityFrames: Int
    /// Samples pushed so far (non-finite samples are stored as 0 and counted).
    public private(set) var samplesPushed = 0
    /// Frames computed so far.
    public private(set) var framesComputed = 0
    /// Non-finite input samples replaced by 0.
    public private(set) var nonFiniteSamples = 0

    private let workspace = FeatureWorkspace()
    private var rng: SplitMix64
    /// Samples from stream index `historyStart` on; holds at least what the next frame needs.
    private let history: UnsafeMutablePointer<Float>
    private let historyCapacity: Int
    private var historyStart = 0
    private var historyCount = 0
    /// (capacityFrames, n_mels) mel energies; frame t at row t % capacityFrames.
    private let rows: UnsafeMutablePointer<Float>
    /// Frames computed per FFT batch.
    private static let batchFrames = 8

    public init(extractor: FeatureExtractor, capacityFrames: Int) {
        precondition(capacityFrames > 0, "StreamingFeatureExtractor: capacity must be positive")
        let c = extractor.config
        self.extractor = extractor
        self.capacityFrames = capacityFrames
        rng = SplitMix64(seed: workspace.ditherSeed)
        // One batch of frames spans (batch − 1)·hop + win samples; room for a push piece on top.
        historyCapacity = (Self.batchFrames + 1) * c.hopLength + c.nFFT + 4 * c.hopLength
        history = .allocate(capacity: historyCapacity)
        history.initialize(repeating: 0, count: historyCapacity)
        rows = .allocate(capacity: capacityFrames * c.nMels)
        rows.initialize(repeating: 0, count: capacityFrames * c.nMels)
        extractor.reserveStreaming(workspace, frames: Self.batchFrames)
    }

    deinit {
        history.deallocate()
        rows.deallocate()
    }

    /// Appends samples (at the config's rate) and computes every frame they complete.
    public func push(_ samples: UnsafeBufferPointer<Float>) {
        var index = 0
        while index < samples.count {
            compactHistory()
            let n = min(samples.count - index, historyCapacity - historyCount)
            precondition(n > 0, "StreamingFeatureExtractor: history full")
            let destination = history + historyCount
            for i in 0..<n {
                let x = samples[index + i]
                if x.isFinite { destination[i] = x } else { destination[i] = 0; nonFiniteSamples += 1 }
            }
            historyCount += n
            samplesPushed += n
            index += n
            computeCompleteFrames()
        }
    }

    /// Whether frame t can be computed from the samples pushed so far.
    private func isComplete(_ t: Int) -> Bool {
        let start = extractor.frameStart(t), c = extractor.config
        guard start + c.winLength <= samplesPushed else { return false }
        // Reflect padding at the stream start mirrors samples up to index −start.
        return !(start < 0 && c.padMode == .reflect) || -start < samplesPushed
    }

    private func computeCompleteFrames() {
        let nMels = extractor.config.nMels
        while isComplete(framesComputed) {
            var count = 1
            while count < Self.batchFrames, isComplete(framesComputed + count) { count += 1 }
            // Rows are contiguous unless the batch wraps around the ring: then one frame at a time.
            let first = framesComputed % capacityFrames
            if first + count > capacityFrames { count = 1 }
            let span = SampleSpan(samples: UnsafeBufferPointer(start: history, count: historyCount),
                                  offset: historyStart, total: samplesPushed)
            extractor.melPowerRows(frames: framesComputed..<(framesComputed + count), samples: span,
                                   workspace: workspace, rng: &rng, into: rows + first * nMels)
            framesComputed += count
        }
    }

    /// Drops samples no later frame reads (keeps the first ones while reflect padding may need them).
    private func compactHistory() {
        let keepFrom = max(0, min(extractor.frameStart(framesComputed), samplesPushed))
        let reflectNeeds = extractor.config.padMode == .reflect && extractor.frameStart(framesComputed) < 0
        guard !reflectNeeds, keepFrom > historyStart else { return }
        let drop = keepFrom - historyStart
        historyCount -= drop
        memmove(history, history + drop, historyCount * MemoryLayout<Float>.stride)
        historyStart = keepFrom
    }

    /// Encoder input for the last `frames` frames, (n_mels, frames) row-major in `output`:
    /// compressed and normalised over the window. Returns false (writing nothing) when fewer frames
    /// have been computed or the ring holds fewer.
    @discardableResult
    public func window(frames: Int, into output: UnsafeMutableBufferPointer<Float>, stage: FeatureStage = .normalized) -> Bool {
        let nMels = extractor.config.nMels
        guard frames > 0, frames <= framesComputed, frames <= capacityFrames, output.count >= frames * nMels else { return false }
        let first = framesComputed - frames
        for k in 0..<frames {
            let row = rows + ((first + k) % capacityFrames) * nMels
            for m in 0..<nMels { output[m * frames + k] = row[m] }
        }
        let values = UnsafeMutableBufferPointer(rebasing: output[0..<(frames * nMels)])
        if stage != .melPower { extractor.compress(values) }
        if stage == .normalized { extractor.normalize(values, frames: frames) }
        return true
    }
}
