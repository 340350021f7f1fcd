import ArgumentParser
import Foundation
import SpeakerVerification

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Is this recording (or the live microphone) the enrolled speaker? Prints score, decision and threshold.",
        discussion: """
            Exit code: 0 accept, 2 reject, 1 error. The threshold is --threshold when given; otherwise the model must \
            be calibrated (spkv calibrate, or a MagNetO model) and the decision is taken at the Bayes threshold \
            log((1 − P)/P) of its log-likelihood ratios for the target prior P (--prior, default 0.01). No built-in \
            constant is used. With --live the audio comes from an ALSA capture device: a line per refresh (time, \
            speech seconds in the window, window and smoothed score, decision), then the verdict on everything heard \
            when Ctrl-C is pressed or --duration seconds of audio have been captured.
            """)

    @OptionGroup var modelOption: ModelOption
    @Option(help: "Enrollment profile (spkv enroll).") var enrollment: String
    @Argument(help: "Recording to verify (not with --live).") var audio: String?
    // `.unconditional`: LLR thresholds are often negative, and "-0.5" must not be taken for an option.
    @Option(parsing: .unconditional, help: "Accept when the score (LLR if calibrated, else cosine) is at least this.")
    var threshold: Double?
    @Option(help: "Target prior for the Bayes threshold of a calibrated model.") var prior = 0.01
    @Flag(help: "Print JSON (one object; with --live one per refresh, then the verdict).") var json = false
    @OptionGroup var liveOptions: LiveOptions

    func validate() throws {
        guard prior > 0, prior < 1 else { throw ValidationError("--prior must be between 0 and 1 (exclusive)") }
        if let threshold, !threshold.isFinite { throw ValidationError("--threshold must be finite") }
        if liveOptions.live { guard audio == nil else { throw ValidationError("give a recording or --live, not both") } }
        else { guard audio != nil else { throw ValidationError("give a recording to verify, or --live") } }
        try liveOptions.check()
    }

    func run() throws {
        if liveOptions.live { return try runLive() }
        var accepted = false
        try reportingErrors {
            let audio = audio!
            let model = try SpeakerModel.load(path: modelOption.model)
            let profile = try SpeakerProfile.read(path: enrollment)
            let r = try Verification.verify(profile: profile, profilePath: enrollment, audioPath: audio, model: model,
                                            threshold: threshold, prior: prior)
            accepted = r.accepted
            if json {
                var object: [String: Any] = ["audio": audio, "speaker": profile.name, "cosine": r.cosine, "score": r.score,
                                             "threshold": r.threshold, "threshold_source": r.thresholdSource,
                                             "decision": r.accepted ? "accept" : "reject"]
                if let llr = r.llr { object["llr"] = llr }
                print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
            } else {
                print("speaker:   \(profile.name)")
                print("score:     \(r.score)\(r.llr != nil ? " (calibrated LLR; cosine \(r.cosine))" : " (cosine)")")
                print("threshold: \(r.threshold) (\(r.thresholdSource))")
                print("decision:  \(r.accepted ? "accept" : "reject")")
            }
        }
        if !accepted { throw ExitCode(2) }
    }

    private func runLive() throws {
        var accepted = false
        try reportingErrors {
            let model = try SpeakerModel.load(path: modelOption.model)
            let profile = try SpeakerProfile.read(path: enrollment)
            var settings = LiveSettings()
            settings.threshold = threshold; settings.prior = prior
            settings.windowSeconds = liveOptions.window; settings.refreshSeconds = liveOptions.refresh
            // A profile of another model, or no threshold for an uncalibrated one, is reported before the device opens.
            try profile.checkCompatible(with: model, profilePath: enrollment)
            _ = try DecisionThreshold(fixed: threshold, prior: prior, outputsLLR: model.scoring.outputsLLR)
            let capture = try liveOptions.openCapture(modelRate: model.features.sampleRate)
            // Scoring runs on the session's worker thread; it alone touches these two.
            nonisolated(unsafe) var computeTimes: [Double] = [], delays: [Double] = []
            computeTimes.reserveCapacity(4096); delays.reserveCapacity(4096)
            let session = try LiveSession(model: model, profile: profile, profilePath: enrollment, settings: settings,
                                          inputRate: capture.sampleRate, maximumSeconds: try liveOptions.maximumSeconds(),
                                          expectedSeconds: liveOptions.duration ?? 60) { u in
                computeTimes.append(u.computeMilliseconds)
                delays.append(u.delayMilliseconds)
                printUpdate(u)
            }
            let verifier = session.verifier!
            let cpuBefore = ProcessCPU.seconds(), wallClock = Stopwatch()
            let verdict = try liveOptions.run(session, capture: capture)!
            let stats = computeTimes.isEmpty ? nil : SampleStatistics(computeTimes)
            // Real-time factor of the scoring (compute per second of audio heard; skipped windows cost nothing)
            // and the whole process's CPU use over the session.
            let rtf = verdict.seconds > 0 ? computeTimes.reduce(0, +) / 1000 / verdict.seconds : 0
            let cpuShare = (ProcessCPU.seconds() - cpuBefore) / max(wallClock.milliseconds / 1000, 1e-9)
            if let r = verdict.result { accepted = r.accepted }
            if json {
                var object: [String: Any] = ["verdict": verdict.result.map { $0.accepted ? "accept" : "reject" } ?? "none",
                                             "seconds": verdict.seconds, "speech_seconds": verdict.speechSeconds,
                                             "speaker": profile.name, "threshold": verifier.threshold,
                                             "dropped_samples": capture.droppedSamples, "device_overruns": capture.deviceOverruns, "disconnections": capture.disconnections,
                                             "refreshes": computeTimes.count, "skipped_refreshes": verifier.skippedRefreshes]
                if let r = verdict.result { object["score"] = r.score; object["cosine"] = r.cosine }
                if let s = stats { object["refresh_compute_ms_p50"] = s.median; object["refresh_compute_ms_p99"] = s.p99 }
                if !delays.isEmpty { object["decision_delay_ms_p99"] = SampleStatistics(delays).p99 }
                object["real_time_factor"] = rtf; object["cpu_share"] = cpuShare
                if let reason = verdict.reason { object["reason"] = reason }
                emit(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
            } else {
                emit(String(format: "heard:     %.2f s, %.2f s of speech", verdict.seconds, verdict.speechSeconds))
                if let r = verdict.result {
                    emit("score:     \(r.score)\(r.llr != nil ? " (calibrated LLR; cosine \(r.cosine))" : " (cosine)")")
                    emit("threshold: \(r.threshold) (\(r.thresholdSource))")
                    emit("decision:  \(r.accepted ? "accept" : "reject")")
                } else {
                    emit("decision:  none (\(verdict.reason ?? "no result"))")
                }
                if let s = stats {
                    emit(String(format: "refresh:   %d windows (%d skipped), compute p50 %.1f ms, p99 %.1f ms, decision delay p99 %.1f ms (interval %.0f ms)",
                                 computeTimes.count, verifier.skippedRefreshes, s.median, s.p99, SampleStatistics(delays).p99,
                                 liveOptions.refresh * 1000))
                }
                emit(String(format: "load:      real-time factor %.3f, process CPU %.1f %% of one core", rtf, 100 * cpuShare))
                emit("capture:   \(capture.droppedSamples) samples dropped, \(capture.deviceOverruns) device overruns, \(capture.disconnections) disconnections")
            }
            guard verdict.result != nil else { throw ReportedFailure(verdict.reason ?? "no verdict") }
        }
        if !accepted { throw ExitCode(2) }
    }

    private func printUpdate(_ u: LiveUpdate) {
        let decision = u.accepted.map { $0 ? "accept" : "reject" } ?? "listening"
        if json {
            var object: [String: Any] = ["time": u.time, "speech_seconds": u.speechSeconds, "decision": decision,
                                         "compute_ms": u.computeMilliseconds, "delay_ms": u.delayMilliseconds]
            if let s = u.score { object["score"] = s }
            if let s = u.smoothedScore { object["smoothed_score"] = s }
            if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) { emit(String(decoding: data, as: UTF8.self)) }
        } else {
            let score = u.score.map { String(format: "%8.3f", $0) } ?? "       –"
            let smoothed = u.smoothedScore.map { String(format: "%8.3f", $0) } ?? "       –"
            emit(String(format: "%7.2f s  speech %4.2f s  score %@  smoothed %@  %@", u.time, u.speechSeconds, score, smoothed, decision))
        }
    }

    /// Live output goes straight to the file descriptor, so a pipe sees every line as it happens.
    private func emit(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
}
