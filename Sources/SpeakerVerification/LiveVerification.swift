import Foundation
import SVStreaming

/// Settings of live verification: a sliding analysis window re-scored at every refresh.
public struct LiveSettings: Sendable {
    /// Length of the analysis window (seconds of the most recent audio).
    public var windowSeconds = 3.0
    /// Audio between two refreshes (seconds).
    public var refreshSeconds = 0.25
    /// Window scores averaged into the smoothed score.
    public var smoothingWindows = 4
    /// Speech a window needs before it is scored (energy VAD, seconds).
    public var minimumSpeechSeconds = 1.0
    /// Fixed threshold; nil means the Bayes threshold of a calibrated model at `prior`.
    public var threshold: Double?
    public var prior = 0.01

    public init() {}
}

/// One refresh: where the stream is, how much speech the window holds, and its (smoothed) score.
public struct LiveUpdate: Sendable, Equatable {
    /// Seconds of audio consumed so far (the end of this window).
    public var time: Double
    /// Speech detected in the window.
    public var speechSeconds: Double
    /// The window's score (LLR if calibrated, else cosine); nil when it had too little speech.
    public var score: Double?
    /// Mean of the last `smoothingWindows` window scores; nil before the first scored window.
    public var smoothedScore: Double?
    /// The smoothed decision; nil while there is no score yet.
    public var accepted: Bool?
    /// Time spent embedding and scoring this window.
    public var computeMilliseconds: Double
    /// From the window's last sample reaching the verifier to this decision (queueing + compute).
    public var delayMilliseconds: Double
}

/// The verdict on everything heard: the whole captured audio embedded once and scored, exactly as batch
/// `Verification.verify` scores a file holding the same samples.
public struct LiveVerdict: Sendable {
    public var seconds: Double
    public var speechSeconds: Double
    public var result: VerificationResult?
    /// Why there is no result (too little speech), else nil.
    public var reason: String?
}

/// Live verification of a stream of samples against a profile.
///
/// Two sides, as in a real-time audio application:
/// - the **audio side** (`push` / `ingest`, one thread) keeps the recording, computes log-mel frames
///   (`StreamingFeatureExtractor`) and VAD frame energies (`StreamingEnergyVAD`) as samples arrive,
///   and at each refresh boundary hands the window's frames to the scoring side. It allocates
///   nothing in steady state (the recording grows by doubling unless `expectedSeconds` reserved it).
/// - the **scoring side** embeds the window and scores it against the profile, smoothing over the
///   last windows. `push` runs it inline (deterministic: file replays, tests); after `startWorker`
///   it runs on its own thread and `ingest` never waits for it: a refresh that arrives while the
///   previous one is still pending replaces it and is counted in `skippedRefreshes`.
///
/// Per-window scores use the stream's own frames (no padding at the window edges), so they are
/// close to, not equal to, batch scores of the window's audio; the verdict (`finish`) embeds all
/// audio heard exactly as batch `Verification.verify` does.
public final class LiveVerifier: @unchecked Sendable {
    public let settings: LiveSettings
    public let decision: DecisionThreshold
    public var threshold: Double { decision.value }
    private let model: SpeakerModel
    private let profile: SpeakerProfile
    private let backend: ScoringBackend
    private let rate: Int
    private let refreshSamples: Int
    private let windowSamples: Int
    private let windowFrames: Int
    private let minimumFrames: Int

    // Audio side.
    private let recording: SampleRecording
    private var nextRefresh: Int
    private let features: StreamingFeatureExtractor
    private let vad: StreamingEnergyVAD

    // Scoring side.
    private let embedder: Embedder
    private var embedding: [Float]
    private var recent: [Double]
    private var recentCount = 0
    private var recentNext = 0

    // Hand-over between the sides: two preallocated jobs; `pending` is filled by the audio side.
    private let jobs: [WindowJob]
    private var pendingJob = 0
    private var hasPending = false
    private var stopping = false
    private let lock = NSLock()
    private let wake = DispatchSemaphore(value: 0)
    private let workerDone = DispatchSemaphore(value: 0)
    private var onUpdate: ((LiveUpdate) -> Void)?
    private var skipped = 0

    /// Refreshes replaced before the worker could score them (the worker fell behind).
    public var skippedRefreshes: Int { lock.withLock { skipped } }

    /// - Parameter expectedSeconds: audio the session will probably hear; the recording reserves it.
    public init(model: SpeakerModel, profile: SpeakerProfile, profilePath: String, settings: LiveSettings,
                expectedSeconds: Double = 60) throws(VerificationError) {
        do { try profile.checkCompatible(with: model, profilePath: profilePath) } catch { throw .profile(error) }
        backend = model.scoring
        decision = try DecisionThreshold(fixed: settings.threshold, prior: settings.prior, outputsLLR: backend.outputsLLR)
        self.model = model; self.profile = profile; self.settings = settings
        embedder = Embedder(model: model)
        rate = model.features.sampleRate
        refreshSamples = max(1, Int(settings.refreshSeconds * Double(rate)))
        windowSamples = max(1, Int(settings.windowSeconds * Double(rate)))
        windowFrames = model.features.frameCount(samples: windowSamples)
        minimumFrames = model.encoder.minimumFrames   // computed from the config: not on the audio path
        nextRefresh = refreshSamples
        features = StreamingFeatureExtractor(extractor: model.frontEnd, capacityFrames: windowFrames)
        let energy = EnergyVAD(sampleRate: rate)
        vad = StreamingEnergyVAD(vad: energy, capacityFrames: windowSamples / energy.hopSamples + 1)
        embedding = [Float](repeating: 0, count: model.embeddingSize)
        recent = [Double](repeating: 0, count: max(1, settings.smoothingWindows))
        let jobValues = model.features.nMels * windowFrames
        jobs = [WindowJob(values: jobValues), WindowJob(values: jobValues)]
        recording = SampleRecording(capacity: Int(max(expectedSeconds, settings.windowSeconds) * Double(rate)))
    }

    public var secondsHeard: Double { Double(recording.count) / Double(rate) }

    /// Synchronous: appends samples and scores every refresh boundary they cross, on this thread.
    public func push(_ samples: UnsafeBufferPointer<Float>) -> [LiveUpdate] {
        precondition(onUpdate == nil, "LiveVerifier.push: a worker is running; use ingest")
        var updates: [LiveUpdate] = []
        ingest(samples) { job in updates.append(score(job)) }
        return updates
    }

    /// Audio side with a worker running: appends samples, hands each refresh to the worker.
    public func ingest(_ samples: UnsafeBufferPointer<Float>) {
        precondition(onUpdate != nil && !lock.withLock({ stopping }), "LiveVerifier.ingest: startWorker first (and not after stopWorker)")
        ingest(samples) { _ in }
    }

    private func ingest(_ samples: UnsafeBufferPointer<Float>, scoreInline: (WindowJob) -> Void) {
        var index = 0
        while index < samples.count {
            // Stop at the next refresh boundary so the window ends exactly on it.
            let n = min(samples.count - index, nextRefresh - recording.count)
            let piece = UnsafeBufferPointer(rebasing: samples[index..<(index + n)])
            recording.append(piece)
            features.push(piece)
            vad.push(piece)
            index += n
            guard recording.count == nextRefresh else { continue }
            if onUpdate == nil {
                fill(jobs[0], end: nextRefresh)
                scoreInline(jobs[0])
            } else {
                handOver(end: nextRefresh)
            }
            nextRefresh += refreshSamples
        }
    }

    /// The window ending at `end`: speech seconds and, when there is enough speech, its mel energies.
    private func fill(_ job: WindowJob, end: Int) {
        job.end = end
        job.queuedNanoseconds = DispatchTime.now().uptimeNanoseconds
        job.speechSeconds = vad.speechSeconds(windowStart: end - windowSamples, end: end)
        let frames = min(windowFrames, features.framesComputed)
        let enough = job.speechSeconds >= settings.minimumSpeechSeconds && frames >= minimumFrames
        job.frames = enough && features.window(frames: frames, into: job.buffer, stage: .melPower) ? frames : 0
    }

    private func handOver(end: Int) {
        lock.lock()
        if hasPending { skipped += 1 }
        fill(jobs[pendingJob], end: end)
        let wasPending = hasPending
        hasPending = true
        lock.unlock()
        if !wasPending { wake.signal() }
    }

    /// Scoring side: embeds and scores one window, updates the smoothing.
    private func score(_ job: WindowJob) -> LiveUpdate {
        var clock = Stopwatch()
        var score: Double?
        if job.frames > 0 {
            let values = UnsafeMutableBufferPointer(rebasing: job.buffer[0..<(job.frames * model.features.nMels)])
            model.frontEnd.finishWindow(values, frames: job.frames)
            let ok = embedding.withUnsafeMutableBufferPointer { out in
                (try? embedder.embed(features: UnsafeBufferPointer(values), frames: job.frames, into: out)) != nil
            }
            if ok { score = backend.score(profile.embedding, embedding) }
        }
        if let score {
            recent[recentNext] = score
            recentNext = (recentNext + 1) % recent.count
            recentCount = min(recentCount + 1, recent.count)
        }
        var smoothed: Double?
        if recentCount > 0 {
            var sum = 0.0
            for k in 0..<recentCount { sum += recent[(recentNext - 1 - k + recent.count) % recent.count] }
            smoothed = sum / Double(recentCount)
        }
        let compute = clock.lap()
        return LiveUpdate(time: Double(job.end) / Double(rate), speechSeconds: job.speechSeconds, score: score,
                          smoothedScore: smoothed, accepted: smoothed.map { $0 >= threshold }, computeMilliseconds: compute,
                          delayMilliseconds: Double(DispatchTime.now().uptimeNanoseconds - job.queuedNanoseconds) / 1e6)
    }

    /// Starts the scoring thread; `onUpdate` is called on it, once per scored refresh, in order.
    public func startWorker(onUpdate: @escaping (LiveUpdate) -> Void) {
        precondition(self.onUpdate == nil, "LiveVerifier.startWorker: already started")
        self.onUpdate = onUpdate
        let thread = Thread { [self] in workerLoop() }
        thread.name = "spkv-score"
        thread.start()
    }

    private func workerLoop() {
        defer { workerDone.signal() }
        var working = 1
        while true {
            wake.wait()
            lock.lock()
            guard hasPending else {
                let done = stopping
                lock.unlock()
                if done { return } else { continue }
            }
            swap(&working, &pendingJob)
            hasPending = false
            lock.unlock()
            onUpdate?(score(jobs[working]))
        }
    }

    /// Lets the worker score what is pending, then stops it (no-op without a worker, or once stopped).
    public func stopWorker() {
        guard onUpdate != nil else { return }
        let first = lock.withLock { () -> Bool in
            defer { stopping = true }
            return !stopping
        }
        guard first else { return }
        wake.signal()
        workerDone.wait()
    }

    /// The verdict on all audio pushed so far (call `stopWorker` first when one runs).
    public func finish() -> LiveVerdict {
        let samples = recording.array
        let speech = EnergyVAD(sampleRate: rate).speechSeconds(samples)
        var verdict = LiveVerdict(seconds: secondsHeard, speechSeconds: speech, result: nil, reason: nil)
        guard speech >= settings.minimumSpeechSeconds else {
            verdict.reason = String(format: "too little speech: %.2f s detected, at least %.2f s needed", speech, settings.minimumSpeechSeconds)
            return verdict
        }
        do {
            let e = try embedder.embed(samples: samples, source: "live audio")
            let (cosine, llr) = backend.compare(profile.embedding, e)
            verdict.result = decision.decide(cosine: cosine, llr: llr)
        } catch {
            verdict.reason = error.description
        }
        return verdict
    }
}

/// All samples heard, in a buffer that doubles when full (explicit, so the audio side's append is
/// a plain copy without generic sequence machinery).
private final class SampleRecording {
    private var storage: UnsafeMutablePointer<Float>
    private var capacity: Int
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        storage = .allocate(capacity: self.capacity)
    }

    deinit { storage.deallocate() }

    func append(_ samples: UnsafeBufferPointer<Float>) {
        if count + samples.count > capacity {
            let grown = max(2 * capacity, count + samples.count)
            let bigger = UnsafeMutablePointer<Float>.allocate(capacity: grown)
            bigger.moveInitialize(from: storage, count: count)
            storage.deallocate()
            storage = bigger
            capacity = grown
        }
        if let base = samples.baseAddress { (storage + count).initialize(from: base, count: samples.count) }
        count += samples.count
    }

    var array: [Float] { Array(UnsafeBufferPointer(start: storage, count: count)) }
}

/// One refresh handed from the audio side to the scoring side (buffers allocated once).
private final class WindowJob {
    var end = 0
    var queuedNanoseconds: UInt64 = 0
    var speechSeconds = 0.0
    /// Frames in `buffer` ((n_mels, frames) mel energies); 0 when the window is not scored.
    var frames = 0
    let buffer: UnsafeMutableBufferPointer<Float>

    init(values: Int) {
        buffer = .allocate(capacity: values)
        buffer.initialize(repeating: 0)
    }

    deinit { buffer.deallocate() }
}
