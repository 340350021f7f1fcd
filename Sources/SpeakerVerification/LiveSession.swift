import Foundation
import Synchronization
import SVAudio
import SVStreaming

/// What a live session drains: a `CaptureStream` (ALSA capture comes from the SVALSA target, so a file-only
/// user does not link libasound), or any other producer of mono samples.
public protocol LiveAudioSource: AnyObject {
    /// The rate the source delivers; the session resamples it to the model's.
    var sampleRate: Int { get }
    /// Copies up to `buffer.count` samples that are ready, without waiting; 0 when none are.
    func read(into buffer: UnsafeMutableBufferPointer<Float>) -> Int
    /// Why the source ended on its own (nil while it runs).
    var failureDescription: String? { get }
    /// Times the device vanished / came back (0 for sources that cannot vanish).
    var disconnections: Int { get }
    var reconnections: Int { get }
    func stop()
}

extension CaptureStream: LiveAudioSource {
    public var sampleRate: Int { format?.sampleRate ?? 0 }
    public func read(into buffer: UnsafeMutableBufferPointer<Float>) -> Int { ring.read(into: buffer) }
    public var failureDescription: String? { failure?.description }
}

/// What happened to a session's source, for the caller to report.
public enum LiveEvent: Sendable, Equatable {
    /// The source's rate differs from the model's: everything is resampled.
    case resampling(from: Int, to: Int)
    case deviceVanished
    case deviceBack
    /// The session holds `maximumSeconds` of audio and takes no more.
    case lengthLimitReached(seconds: Double)
}

public struct LiveSessionError: Error, Equatable, CustomStringConvertible {
    public let description: String
    /// Set when the verifier could not be made (a profile of another model, no threshold for an uncalibrated one).
    public var verification: VerificationError?

    public init(description: String, verification: VerificationError? = nil) {
        self.description = description; self.verification = verification
    }
}

/// One live session, from samples in to verdict out: audio pushed by the caller (`push`) or drained from a
/// source (`run`) at any rate, resampled to the model's rate (the same output as resampling the whole
/// recording), bounded by `maximumSeconds`, and either
/// - **verified** against a profile (`LiveVerifier`: per-refresh `LiveUpdate`s, then `finish`'s verdict on
///   everything heard, scored exactly as batch verification scores a file holding the same samples), or
/// - **recorded** (no profile: `recording` after `finish`, e.g. to enroll).
///
/// Updates are delivered through `onUpdate`: with `.inline` scoring on the thread that pushes (deterministic:
/// replays, tests, the C API's polling), with `.worker` on the verifier's own thread, so the audio side never
/// waits for the encoder (a refresh that arrives while one is pending replaces it: `skippedRefreshes`).
///
/// `push`, `run` and `finish` belong to one thread at a time; `stop` may be called from any thread
/// (e.g. a SIGINT handler's queue) and ends `run` after its current chunk.
public final class LiveSession {
    public enum Scoring: Sendable { case inline, worker }

    /// The model's rate: what the verifier and the recording hold.
    public let sampleRate: Int
    /// The rate pushed samples are at.
    public let inputRate: Int
    public let maximumSeconds: Double
    /// The verifier, when the session verifies (its threshold, skipped refreshes).
    public let verifier: LiveVerifier?
    private let limit: Int
    private var resampler: Resampler?
    private var converted: [Float] = []
    private var recorded: [Float] = []
    private var consumed = 0
    private var finished = false
    private let stopRequested = Atomic<Bool>(false)
    private let scoring: Scoring
    private let onUpdate: ((LiveUpdate) -> Void)?
    private var verdict: LiveVerdict?

    /// A session that verifies against `profile`.
    /// - Parameters:
    ///   - inputRate: the rate of the samples pushed or of the source `run` drains (`AudioFile.supportedSampleRates`).
    ///   - maximumSeconds: audio (at the model's rate) after which the session takes no more.
    ///   - expectedSeconds: audio the session will probably hear, reserved up front so the audio side does not
    ///     allocate (default: `maximumSeconds`, at most 60 s).
    public convenience init(model: SpeakerModel, profile: SpeakerProfile, profilePath: String, settings: LiveSettings,
                inputRate: Int, maximumSeconds: Double, expectedSeconds: Double? = nil, scoring: Scoring = .worker,
                onUpdate: ((LiveUpdate) -> Void)? = nil) throws(LiveSessionError) {
        if let expectedSeconds, !(expectedSeconds >= 0 && expectedSeconds <= AudioFile.maximumSecondsRange.upperBound) {
            throw LiveSessionError(description: "expected seconds must be from 0 to \(AudioFile.maximumSecondsRange.upperBound) (got \(expectedSeconds))")
        }
        let verifier: LiveVerifier
        do {
            verifier = try LiveVerifier(model: model, profile: profile, profilePath: profilePath, settings: settings,
                                        expectedSeconds: expectedSeconds ?? min(maximumSeconds, 60))
        } catch { throw LiveSessionError(description: error.description, verification: error) }
        try self.init(sampleRate: model.features.sampleRate, inputRate: inputRate, maximumSeconds: maximumSeconds,
                      verifier: verifier, scoring: scoring, onUpdate: onUpdate)
    }

    /// A session that only records (`recording` after `finish`), e.g. for live enrollment.
    public convenience init(recordingFor model: SpeakerModel, inputRate: Int, maximumSeconds: Double) throws(LiveSessionError) {
        try self.init(sampleRate: model.features.sampleRate, inputRate: inputRate, maximumSeconds: maximumSeconds,
                      verifier: nil, scoring: .inline, onUpdate: nil)
    }

    private init(sampleRate: Int, inputRate: Int, maximumSeconds: Double, verifier: LiveVerifier?, scoring: Scoring,
                 onUpdate: ((LiveUpdate) -> Void)?) throws(LiveSessionError) {
        guard AudioFile.supportedSampleRates.contains(inputRate) else {
            throw LiveSessionError(description: "input sample rate \(inputRate) Hz is out of range (\(AudioFile.supportedSampleRates.lowerBound)–\(AudioFile.supportedSampleRates.upperBound) Hz)")
        }
        guard maximumSeconds > 0, maximumSeconds <= AudioFile.maximumSecondsRange.upperBound else {
            throw LiveSessionError(description: "the session's length limit must be above 0 and at most \(AudioFile.maximumSecondsRange.upperBound) s (got \(maximumSeconds) s)")
        }
        self.sampleRate = sampleRate; self.inputRate = inputRate; self.maximumSeconds = maximumSeconds
        self.verifier = verifier; self.scoring = scoring; self.onUpdate = onUpdate
        limit = Int((maximumSeconds * Double(sampleRate)).rounded())
        if inputRate != sampleRate {
            var r = Resampler(inputRate: inputRate, outputRate: sampleRate)
            r.reserveCapacity(chunkSize: inputRate / 20)
            resampler = r
            converted.reserveCapacity(r.maxOutputCount(forInputCount: inputRate / 20))
        }
        if verifier == nil { recorded.reserveCapacity(min(limit, 60 * sampleRate)) }
        if let verifier, scoring == .worker { verifier.startWorker { u in onUpdate?(u) } }
    }

    /// Seconds of audio (at the model's rate) taken so far.
    public var secondsHeard: Double { Double(consumed) / Double(sampleRate) }
    /// True once `maximumSeconds` of audio were taken: later samples are dropped.
    public var isFull: Bool { consumed >= limit }
    /// Everything a recording session took (empty for a verifying one: its verifier keeps the audio).
    public var recording: [Float] { recorded }

    /// Takes samples at `inputRate`; returns false when the length limit was reached (what did not fit is dropped).
    @discardableResult
    public func push(_ samples: UnsafeBufferPointer<Float>) -> Bool {
        precondition(!finished, "LiveSession.push after finish")
        guard resampler != nil else { deliver(samples); return !isFull }
        resampler!.push(samples, appendingTo: &converted)
        converted.withUnsafeBufferPointer { deliver($0) }
        converted.removeAll(keepingCapacity: true)
        return !isFull
    }

    /// Hands at most what the limit still allows to the verifier or the recording.
    private func deliver(_ samples: UnsafeBufferPointer<Float>) {
        let n = min(samples.count, limit - consumed)
        guard n > 0 else { return }
        let piece = UnsafeBufferPointer(rebasing: samples[0..<n])
        if let verifier {
            if scoring == .worker { verifier.ingest(piece) } else { for u in verifier.push(piece) { onUpdate?(u) } }
        } else {
            recorded.append(contentsOf: piece)
        }
        consumed += n
    }

    /// Ends `run` after its current chunk (any thread).
    public func stop() { stopRequested.store(true, ordering: .releasing) }
    public var isStopRequested: Bool { stopRequested.load(ordering: .acquiring) }

    /// Drains `source` until the length limit, `stop()`, or the source fails (then throws, after stopping it).
    /// The source must deliver at `inputRate`. `onEvent` is called on this thread.
    public func run(source: LiveAudioSource, onEvent: (LiveEvent) -> Void = { _ in }) throws(LiveSessionError) {
        guard source.sampleRate == inputRate else {
            source.stop()
            throw LiveSessionError(description: "the source delivers \(source.sampleRate) Hz but the session was made for \(inputRate) Hz")
        }
        if inputRate != sampleRate { onEvent(.resampling(from: inputRate, to: sampleRate)) }
        var chunk = [Float](repeating: 0, count: max(160, inputRate / 20))
        var lost = 0, back = 0
        defer { source.stop() }
        while !isStopRequested {
            if isFull { onEvent(.lengthLimitReached(seconds: maximumSeconds)); break }
            // Without resampling never read past the limit, so the last chunk ends exactly on it.
            let want = resampler == nil ? min(chunk.count, limit - consumed) : chunk.count
            let n = chunk.withUnsafeMutableBufferPointer { source.read(into: UnsafeMutableBufferPointer(rebasing: $0[0..<want])) }
            if source.disconnections != lost || source.reconnections != back {
                lost = source.disconnections; back = source.reconnections
                onEvent(lost > back ? .deviceVanished : .deviceBack)
            }
            if n == 0 {
                if let failure = source.failureDescription { throw LiveSessionError(description: failure) }
                usleep(2_000)
                continue
            }
            chunk.withUnsafeBufferPointer { _ = push(UnsafeBufferPointer(rebasing: $0[0..<n])) }
        }
    }

    /// Flushes the resampler (the samples still inside its filter), lets the worker score what is pending and
    /// stops it, and returns the verdict on everything heard (nil for a recording session). Idempotent.
    @discardableResult
    public func finish() -> LiveVerdict? {
        guard !finished else { return verdict }
        if resampler != nil, !isFull {
            var out: [Float] = []
            resampler!.finish(appendingTo: &out)
            out.withUnsafeBufferPointer { deliver($0) }
        }
        finished = true
        guard let verifier else { return nil }
        verifier.stopWorker()
        verdict = verifier.finish()
        return verdict
    }

    deinit { verifier?.stopWorker() }
}
