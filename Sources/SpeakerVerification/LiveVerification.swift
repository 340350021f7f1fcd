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

/// Live verification of a stream of samples against a profile: `push` audio as it arrives, get an
/// update per refresh interval; `finish` gives the verdict. Allocation happens per refresh (embedding),
/// never per pushed sample beyond the growing recording.
public final class LiveVerifier {
    public let settings: LiveSettings
    private let model: SpeakerModel
    private let profile: SpeakerProfile
    private let backend: ScoringBackend
    private let embedder: Embedder
    private let vad: EnergyVAD
    public let threshold: Double
    public let thresholdSource: String
    private let rate: Int
    private var recording: [Float] = []
    private var nextRefresh: Int
    private var recent: [Double] = []

    public init(model: SpeakerModel, profile: SpeakerProfile, profilePath: String, settings: LiveSettings) throws(VerificationError) {
        do { try profile.checkCompatible(with: model, profilePath: profilePath) } catch { throw .profile(error) }
        do { backend = try ScoringBackend(model: model) } catch { throw .scoring(error.description) }
        if let t = settings.threshold {
            threshold = t; thresholdSource = "--threshold"
        } else {
            guard backend.outputsLLR else { throw .noThreshold }
            threshold = BayesDecision.threshold(targetPrior: settings.prior)
            thresholdSource = "Bayes threshold log((1−P)/P) at target prior P = \(settings.prior)"
        }
        self.model = model; self.profile = profile; self.settings = settings
        embedder = Embedder(model: model)
        rate = model.features.sampleRate
        vad = EnergyVAD(sampleRate: rate)
        nextRefresh = Int(settings.refreshSeconds * Double(rate))
    }

    public var secondsHeard: Double { Double(recording.count) / Double(rate) }

    /// Appends samples; returns an update for every refresh boundary they cross.
    public func push(_ samples: UnsafeBufferPointer<Float>) -> [LiveUpdate] {
        recording.append(contentsOf: samples)
        var updates: [LiveUpdate] = []
        let step = max(1, Int(settings.refreshSeconds * Double(rate)))
        while recording.count >= nextRefresh {
            updates.append(refresh(end: nextRefresh))
            nextRefresh += step
        }
        return updates
    }

    private func refresh(end: Int) -> LiveUpdate {
        var clock = Stopwatch()
        let length = Int(settings.windowSeconds * Double(rate))
        let window = Array(recording[max(0, end - length)..<end])
        let speech = vad.speechSeconds(window)
        var score: Double?
        if speech >= settings.minimumSpeechSeconds, let e = try? embedder.embed(samples: window) {
            score = backend.score(profile.embedding, e)
        }
        if let score {
            recent.append(score)
            if recent.count > settings.smoothingWindows { recent.removeFirst() }
        }
        let smoothed = recent.isEmpty ? nil : recent.reduce(0, +) / Double(recent.count)
        return LiveUpdate(time: Double(end) / Double(rate), speechSeconds: speech, score: score, smoothedScore: smoothed,
                          accepted: smoothed.map { $0 >= threshold }, computeMilliseconds: clock.lap())
    }

    /// The verdict on all audio pushed so far.
    public func finish() -> LiveVerdict {
        let speech = vad.speechSeconds(recording)
        var verdict = LiveVerdict(seconds: secondsHeard, speechSeconds: speech, result: nil, reason: nil)
        guard speech >= settings.minimumSpeechSeconds else {
            verdict.reason = String(format: "too little speech: %.2f s detected, at least %.2f s needed", speech, settings.minimumSpeechSeconds)
            return verdict
        }
        do {
            let e = try embedder.embed(samples: recording, source: "live audio")
            let (cosine, llr) = backend.compare(profile.embedding, e)
            verdict.result = VerificationResult(cosine: cosine, llr: llr, threshold: threshold, thresholdSource: thresholdSource)
        } catch {
            verdict.reason = error.description
        }
        return verdict
    }
}
