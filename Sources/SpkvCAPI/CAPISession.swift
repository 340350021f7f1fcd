import CSpkv
import Foundation
import SpeakerVerification

/// What an `spkv_session *` points to: a library `LiveSession` whose updates wait in a queue for `spkv_session_poll`.
final class SessionHandle {
    let session: LiveSession
    // The session keeps the model and profile it was made with, so the caller may free their handles first.
    let model: ModelHandle, profile: ProfileHandle
    let minimumSpeechSeconds: Double
    private let queue: UpdateQueue
    var decision: spkv_decision?
    var finishStatus: (status: spkv_status, message: String)?

    init(model: ModelHandle, profile: ProfileHandle, settings: LiveSettings, inputRate: Int, maximumSeconds: Double,
         background: Bool) throws(LiveSessionError) {
        let queue = UpdateQueue()
        session = try LiveSession(model: model.model, profile: profile.profile, profilePath: profile.origin, settings: settings,
                                  inputRate: inputRate, maximumSeconds: maximumSeconds, scoring: background ? .worker : .inline) { u in
            queue.append(u)
        }
        self.model = model; self.profile = profile; self.queue = queue
        minimumSpeechSeconds = settings.minimumSpeechSeconds
    }

    func poll() -> LiveUpdate? { queue.pop() }

    static func from(_ pointer: OpaquePointer?, in function: String) throws(StatusError) -> SessionHandle {
        object(try required(pointer, "session", in: function), as: SessionHandle.self)
    }
}

/// Updates from the scoring side (the pushing thread, or the worker) to `poll`; at most `capacity` wait (a caller
/// that never polls does not make it grow without bound): past that the oldest are dropped.
private final class UpdateQueue: @unchecked Sendable {
    static let capacity = 4096
    private var items: [LiveUpdate] = []
    private var head = 0
    private let lock = NSLock()

    func append(_ u: LiveUpdate) {
        lock.withLock {
            items.append(u)
            if items.count - head > Self.capacity { head += 1 }
            if head >= Self.capacity { items.removeFirst(head); head = 0 }
        }
    }

    func pop() -> LiveUpdate? {
        lock.withLock {
            guard head < items.count else { return nil }
            defer {
                head += 1
                if head == items.count { items.removeAll(keepingCapacity: true); head = 0 }
            }
            return items[head]
        }
    }
}

@_cdecl("spkv_session_settings_init")
public func spkvSessionSettingsInit(_ settings: UnsafeMutablePointer<spkv_session_settings>?, _ sampleRate: Int32) {
    guard let settings else { return }
    let d = LiveSettings()
    settings.pointee = spkv_session_settings(sample_rate: sampleRate, window_seconds: d.windowSeconds, refresh_seconds: d.refreshSeconds,
                                             min_speech_seconds: d.minimumSpeechSeconds, max_seconds: 1800, threshold: .nan,
                                             prior: d.prior, background: 0)
}

@_cdecl("spkv_session_new")
public func spkvSessionNew(_ model: OpaquePointer?, _ profile: OpaquePointer?, _ settings: UnsafePointer<spkv_session_settings>?,
                           _ out: UnsafeMutablePointer<OpaquePointer?>?) -> spkv_status {
    guarded {
        let f = "spkv_session_new"
        let m = try ModelHandle.from(model, in: f), p = try ProfileHandle.from(profile, in: f)
        let out = try required(out, "out", in: f)
        var c = spkv_session_settings()
        if let settings { c = settings.pointee } else { spkvSessionSettingsInit(&c, Int32(m.model.features.sampleRate)) }
        guard (0.5...600).contains(c.window_seconds) else { throw invalid(f, "window_seconds must be from 0.5 to 600, got \(c.window_seconds)") }
        guard c.refresh_seconds >= 0.01, c.refresh_seconds <= c.window_seconds else {
            throw invalid(f, "refresh_seconds must be from 0.01 to window_seconds, got \(c.refresh_seconds)")
        }
        guard (0...86_400).contains(c.min_speech_seconds) else { throw invalid(f, "min_speech_seconds must be from 0 to 86400, got \(c.min_speech_seconds)") }
        guard (0.01...86_400).contains(c.max_seconds) else { throw invalid(f, "max_seconds must be from 0.01 to 86400, got \(c.max_seconds)") }
        guard c.background == 0 || c.background == 1 else { throw invalid(f, "background must be 0 or 1") }
        var live = LiveSettings()
        live.windowSeconds = c.window_seconds; live.refreshSeconds = c.refresh_seconds
        live.minimumSpeechSeconds = c.min_speech_seconds; live.prior = c.prior
        live.threshold = try threshold(c.threshold, prior: c.prior, in: f)
        let handle = try SessionHandle(model: m, profile: p, settings: live, inputRate: Int(c.sample_rate), maximumSeconds: c.max_seconds,
                                       background: c.background == 1)
        out.pointee = makeHandle(handle)
        return SPKV_OK
    }
}

@_cdecl("spkv_session_push")
public func spkvSessionPush(_ session: OpaquePointer?, _ samples: UnsafePointer<Float>?, _ count: Int,
                            _ acceptedAll: UnsafeMutablePointer<Int32>?) -> spkv_status {
    guarded {
        let f = "spkv_session_push"
        let s = try SessionHandle.from(session, in: f)
        guard s.finishStatus == nil else { return fail(SPKV_ERROR_STATE, "\(f): the session is finished") }
        guard count >= 0 else { throw invalid(f, "count is negative") }
        let buffer = UnsafeBufferPointer(start: count == 0 ? nil : try required(samples, "samples", in: f), count: count)
        if let bad = buffer.firstIndex(where: { !$0.isFinite }) {
            return fail(SPKV_ERROR_AUDIO, "\(f): sample \(bad) of this push is NaN or infinite; nothing of it was taken")
        }
        let all = s.session.push(buffer)
        acceptedAll?.pointee = all ? 1 : 0
        return SPKV_OK
    }
}

@_cdecl("spkv_session_poll")
public func spkvSessionPoll(_ session: OpaquePointer?, _ out: UnsafeMutablePointer<spkv_update>?,
                            _ hasUpdate: UnsafeMutablePointer<Int32>?) -> spkv_status {
    guarded {
        let f = "spkv_session_poll"
        let s = try SessionHandle.from(session, in: f)
        let out = try required(out, "out", in: f), has = try required(hasUpdate, "has_update", in: f)
        guard let u = s.poll() else { has.pointee = 0; return SPKV_OK }
        out.pointee = spkv_update(time: u.time, speech_seconds: u.speechSeconds, has_score: u.score != nil ? 1 : 0, score: u.score ?? 0,
                                  has_smoothed: u.smoothedScore != nil ? 1 : 0, smoothed_score: u.smoothedScore ?? 0,
                                  accepted: u.accepted.map { $0 ? 1 : 0 } ?? -1)
        has.pointee = 1
        return SPKV_OK
    }
}

@_cdecl("spkv_session_finish")
public func spkvSessionFinish(_ session: OpaquePointer?, _ out: UnsafeMutablePointer<spkv_decision>?) -> spkv_status {
    guarded {
        let f = "spkv_session_finish"
        let s = try SessionHandle.from(session, in: f)
        let out = try required(out, "out", in: f)
        if s.finishStatus == nil {
            let verdict = s.session.finish()!
            if let r = verdict.result {
                s.decision = cDecision(r)
                s.finishStatus = (SPKV_OK, "")
            } else {
                let reason = verdict.reason ?? "no verdict"
                s.finishStatus = (verdict.speechSeconds < s.minimumSpeechSeconds ? SPKV_ERROR_TOO_LITTLE_SPEECH : SPKV_ERROR_AUDIO, "\(f): \(reason)")
            }
        }
        let (status, message) = s.finishStatus!
        guard status == SPKV_OK else { return fail(status, message) }
        out.pointee = s.decision!
        return SPKV_OK
    }
}

@_cdecl("spkv_session_free")
public func spkvSessionFree(_ session: OpaquePointer?) { release(session) }
