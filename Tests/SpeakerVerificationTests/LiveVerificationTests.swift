import Foundation
import Testing
import _SVTestSupport
@testable import SpeakerVerification

/// Live verification fed from a file replay: refresh cadence, smoothing, and the same verdict as batch verify.
@Suite struct LiveVerificationTests {
    @Test func replayGivesARefreshPerIntervalAndTheBatchVerdict() throws {
        let model = try VerificationBackEndTests.model()
        let speech = VerificationBackEndTests.speech
        let profile = try Enrollment.enroll(name: "a", paths: [speech[0]], model: model, minimumSpeechSeconds: 1)
        var settings = LiveSettings()
        settings.threshold = 0.1
        let live = try LiveVerifier(model: model, profile: profile, profilePath: "p", settings: settings)
        let clip = try AudioFile.readMono(path: speech[1], sampleRate: 16_000)
        var updates: [LiveUpdate] = []
        var start = 0
        while start < clip.samples.count {
            let end = min(start + 160, clip.samples.count)
            updates += clip.samples[start..<end].withUnsafeBufferPointer { live.push($0) }
            start = end
        }
        #expect(updates.count == clip.samples.count / 4_000)
        for (k, u) in updates.enumerated() { #expect(abs(u.time - 0.25 * Double(k + 1)) < 1e-9) }
        let scored = updates.filter { $0.score != nil }
        #expect(!scored.isEmpty && scored.allSatisfy { $0.speechSeconds >= 1 && $0.accepted != nil })
        // Smoothing: each smoothed score is the mean of the last (up to) 4 window scores.
        let scores = scored.map { $0.score! }
        for (k, u) in scored.enumerated() {
            let last = scores[max(0, k - 3)...k]
            #expect(abs(u.smoothedScore! - last.reduce(0, +) / Double(last.count)) < 1e-12)
        }
        let verdict = live.finish()
        let batch = try Verification.verify(profile: profile, profilePath: "p", audioPath: speech[1], model: model, threshold: 0.1, prior: 0.01)
        let r = try #require(verdict.result)
        #expect(abs(r.score - batch.score) < 1e-9 && r.accepted == batch.accepted && abs(verdict.seconds - clip.duration) < 1e-9)
    }

    @Test func silenceGivesNoScoreAndNoVerdict() throws {
        let model = try VerificationBackEndTests.model()
        let profile = try Enrollment.enroll(name: "a", paths: [VerificationBackEndTests.speech[0]], model: model, minimumSpeechSeconds: 1)
        var settings = LiveSettings()
        settings.threshold = 0.1
        let live = try LiveVerifier(model: model, profile: profile, profilePath: "p", settings: settings)
        let quiet = [Float](repeating: 0, count: 16_000 * 2)
        let updates = quiet.withUnsafeBufferPointer { live.push($0) }
        #expect(updates.count == 8 && updates.allSatisfy { $0.score == nil && $0.accepted == nil && $0.speechSeconds == 0 })
        let verdict = live.finish()
        #expect(verdict.result == nil && verdict.reason?.contains("too little speech") == true)
        // Without a threshold an uncalibrated model is refused up front.
        #expect(throws: VerificationError.noThreshold) { try LiveVerifier(model: model, profile: profile, profilePath: "p", settings: LiveSettings()) }
    }
}
