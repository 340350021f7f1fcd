import Foundation
import Testing
import Synchronization
import _SVAllocationProbe
import _SVTestSupport
@testable import SpeakerVerification

/// Live verification fed from a file replay: refresh cadence, smoothing, and the same verdict as batch verify.
@Suite struct LiveVerificationTests {
    /// The ECAPA test model, or the small 3D-Speaker CAM++ (its front end, 3d-speaker, streams too).
    static func model(_ architecture: String) throws -> SpeakerModel {
        guard architecture == "campplus" else { return try VerificationBackEndTests.model() }
        return try SpeakerModel(file: ModelImport.run(from: .campplus, source: Fixtures.path("campplus/campplus_small.safetensors"),
                                                      output: nil).file)
    }

    @Test(arguments: ["ecapa-tdnn", "campplus"])
    func replayGivesARefreshPerIntervalAndTheBatchVerdict(architecture: String) throws {
        let model = try Self.model(architecture)
        #expect(model.encoder.architecture == architecture)
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
        // Same samples, same network; the OpenBLAS thread count is the process's and other suites change it.
        #expect(abs(r.score - batch.score) < 1e-5 && r.accepted == batch.accepted && abs(verdict.seconds - clip.duration) < 1e-9)
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

    /// Collects worker updates (called on the worker thread).
    final class Collector: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [LiveUpdate] = []
        func add(_ u: LiveUpdate) { lock.withLock { items.append(u) } }
        var updates: [LiveUpdate] { lock.withLock { items } }
    }

    static func setUp() throws -> (SpeakerModel, SpeakerProfile, [Float], LiveSettings) {
        let model = try VerificationBackEndTests.model()
        let speech = VerificationBackEndTests.speech
        let profile = try Enrollment.enroll(name: "a", paths: [speech[0]], model: model, minimumSpeechSeconds: 1)
        var settings = LiveSettings()
        settings.threshold = 0.1
        return (model, profile, try AudioFile.readMono(path: speech[1], sampleRate: 16_000).samples, settings)
    }

    @Test func theWorkerThreadGivesTheSameUpdatesAsInlineScoring() throws {
        let (model, profile, samples, settings) = try Self.setUp()
        let inline = try LiveVerifier(model: model, profile: profile, profilePath: "p", settings: settings)
        let expected = samples.withUnsafeBufferPointer { inline.push($0) }
        let live = try LiveVerifier(model: model, profile: profile, profilePath: "p", settings: settings)
        let collector = Collector()
        live.startWorker { collector.add($0) }
        // Feed a refresh interval at a time and let the worker finish each, as a real-time source would.
        for start in stride(from: 0, to: samples.count, by: 4_000) {
            samples[start..<min(start + 4_000, samples.count)].withUnsafeBufferPointer { live.ingest($0) }
            let want = min(samples.count, start + 4_000) / 4_000
            let deadline = Date().addingTimeInterval(30)
            while collector.updates.count < want && Date() < deadline { usleep(500) }
        }
        live.stopWorker()
        live.stopWorker()   // a second stop is a no-op, not a hang
        let got = collector.updates
        #expect(live.skippedRefreshes == 0 && got.count == expected.count && got.count == samples.count / 4_000)
        // The same windows, scores and decisions. Scores agree to rounding, not bit for bit: with several
        // OpenBLAS threads and other GEMMs running at the same time (the parallel test run), sgemm may
        // split its sums differently from one call to the next.
        func close(_ x: Double?, _ y: Double?) -> Bool { x == nil ? y == nil : y.map { abs($0 - x!) < 1e-5 } ?? false }
        for (a, b) in zip(got, expected) {
            #expect(a.time == b.time && a.speechSeconds == b.speechSeconds && close(a.score, b.score)
                    && close(a.smoothedScore, b.smoothedScore), "\(a) vs \(b)")
            if let s = b.smoothedScore, abs(s - settings.threshold!) > 1e-4 { #expect(a.accepted == b.accepted) }
        }
        #expect(got.contains { $0.score != nil })
        #expect(close(live.finish().result?.score, inline.finish().result?.score))
    }

    @Test func aWorkerThatFallsBehindSkipsStaleRefreshesButScoresTheLatest() throws {
        let (model, profile, samples, settings) = try Self.setUp()
        let live = try LiveVerifier(model: model, profile: profile, profilePath: "p", settings: settings)
        let collector = Collector()
        live.startWorker { collector.add($0) }
        samples.withUnsafeBufferPointer { live.ingest($0) }   // all at once: faster than any worker
        live.stopWorker()
        let got = collector.updates, total = samples.count / 4_000
        #expect(live.skippedRefreshes > 0 && got.count + live.skippedRefreshes == total)
        #expect(got.last?.time == Double(total) * 0.25, "the newest window is scored at stop")
        #expect(zip(got, got.dropFirst()).allSatisfy { $0.time < $1.time })
    }

    /// The audio side (recording, streaming features, VAD, hand-over) makes no heap allocation in
    /// steady state, with the worker scoring on its own thread.
    @Test func theAudioSideDoesNotAllocateInSteadyState() throws {
        let (model, profile, samples, settings) = try Self.setUp()
        let live = try LiveVerifier(model: model, profile: profile, profilePath: "p", settings: settings, expectedSeconds: 30)
        let collector = Collector()
        live.startWorker { collector.add($0) }
        var allocations: [UInt] = []
        allocations.reserveCapacity(samples.count / 160 + 1)
        samples.withUnsafeBufferPointer { all in
            var start = 0
            while start < all.count {
                let chunk = UnsafeBufferPointer(rebasing: all[start..<min(start + 160, all.count)])
                let before = spkv_thread_allocations()
                live.ingest(chunk)
                allocations.append(spkv_thread_allocations() - before)
                start += 160
            }
        }
        live.stopWorker()
        // Warm-up: the first second (the first refreshes); then nothing.
        #expect(allocations.dropFirst(100).allSatisfy { $0 == 0 }, "allocations \(allocations.dropFirst(100).prefix(30)) chunks that allocated: \(allocations.enumerated().filter { $0.offset >= 100 && $0.element > 0 }.map(\.offset))")
        #expect(collector.updates.count + live.skippedRefreshes == samples.count / 4_000)
    }
}
