import Foundation
import Testing
import _SVTestSupport
@testable import SpeakerVerification

/// A source that hands out a recording in chunks of at most `chunk` samples (what a capture ring does, without a device).
private final class RecordingSource: LiveAudioSource {
    let sampleRate: Int
    private let samples: [Float]
    private let chunk: Int
    private var position = 0
    var failAtEnd: String?
    private(set) var stopped = false
    let disconnections = 0, reconnections = 0

    init(samples: [Float], sampleRate: Int, chunk: Int) { self.samples = samples; self.sampleRate = sampleRate; self.chunk = chunk }

    func read(into buffer: UnsafeMutableBufferPointer<Float>) -> Int {
        let n = min(buffer.count, chunk, samples.count - position)
        for i in 0..<n { buffer[i] = samples[position + i] }
        position += n
        return n
    }
    var failureDescription: String? { position == samples.count ? failAtEnd : nil }
    func stop() { stopped = true }
}

/// The library's live session: resampling, the length limit, recording, draining a source, and the batch verdict.
@Suite struct LiveSessionTests {
    static let speech = VerificationBackEndTests.speech

    @Test("audio pushed at 8 kHz is resampled as a whole file would be: the verdict equals batch verification of it")
    func resampledPushGivesTheBatchVerdict() throws {
        let model = try VerificationBackEndTests.model()
        let profile = try Enrollment.enroll(name: "a", paths: [Self.speech[0]], model: model, minimumSpeechSeconds: 1)
        var settings = LiveSettings()
        settings.threshold = 0.1
        let at8k = try AudioFile.readMono(path: Self.speech[1], sampleRate: 8_000).samples
        var updates: [LiveUpdate] = []
        let session = try LiveSession(model: model, profile: profile, profilePath: "p", settings: settings, inputRate: 8_000,
                                      maximumSeconds: 600, scoring: .inline) { updates.append($0) }
        var start = 0
        while start < at8k.count {
            let end = min(start + 333, at8k.count)
            #expect(at8k[start..<end].withUnsafeBufferPointer { session.push($0) })
            start = end
        }
        let verdict = try #require(session.finish())
        #expect(session.finish()?.result == verdict.result, "finish is idempotent")
        let resampled = Resampler(inputRate: 8_000, outputRate: 16_000).process(at8k)
        #expect(abs(verdict.seconds - Double(resampled.count) / 16_000) < 1e-9)
        let batch = try Verification.verify(profile: profile, profilePath: "p", samples: resampled, source: "r", model: model,
                                            threshold: 0.1, prior: 0.01)
        let r = try #require(verdict.result)
        #expect(abs(r.score - batch.score) < 1e-5 && r.accepted == batch.accepted)
        #expect(updates.count == resampled.count / 4_000)
    }

    @Test("a recording session keeps exactly maximumSeconds and says when it is full")
    func recordingStopsAtTheLimit() throws {
        let model = try VerificationBackEndTests.model()
        let session = try LiveSession(recordingFor: model, inputRate: 16_000, maximumSeconds: 1.5)
        let tone = AudioTestSignals.tone(frequency: 200, sampleRate: 16_000, count: 16_000)
        #expect(tone.withUnsafeBufferPointer { session.push($0) })
        #expect(!tone.withUnsafeBufferPointer { session.push($0) })
        #expect(session.isFull && session.finish() == nil)
        #expect(session.recording.count == 24_000 && Array(session.recording[16_000...]) == Array(tone[..<8_000]))
    }

    @Test("run drains a source to the limit, stops it, and reports the limit; a failing source is an error")
    func runDrainsASource() throws {
        let model = try VerificationBackEndTests.model()
        let clip = try AudioFile.readMono(path: Self.speech[1], sampleRate: 16_000).samples
        let source = RecordingSource(samples: clip, sampleRate: 16_000, chunk: 1_234)
        let session = try LiveSession(recordingFor: model, inputRate: 16_000, maximumSeconds: 2)
        var events: [LiveEvent] = []
        try session.run(source: source) { events.append($0) }
        #expect(events == [.lengthLimitReached(seconds: 2)] && source.stopped)
        #expect(session.recording == Array(clip[..<32_000]))

        let failing = RecordingSource(samples: Array(clip[..<8_000]), sampleRate: 16_000, chunk: 500)
        failing.failAtEnd = "the device is gone"
        let other = try LiveSession(recordingFor: model, inputRate: 16_000, maximumSeconds: 60)
        #expect(throws: LiveSessionError(description: "the device is gone")) { try other.run(source: failing) }
        #expect(failing.stopped && other.recording.count == 8_000)

        let wrongRate = RecordingSource(samples: clip, sampleRate: 44_100, chunk: 500)
        #expect(throws: LiveSessionError.self) { try session.run(source: wrongRate) }
    }

    @Test("stop from another thread ends run; bad rates and limits are errors")
    func stopAndBadSettings() throws {
        let model = try VerificationBackEndTests.model()
        #expect(throws: LiveSessionError.self) { try LiveSession(recordingFor: model, inputRate: 10, maximumSeconds: 1) }
        #expect(throws: LiveSessionError.self) { try LiveSession(recordingFor: model, inputRate: 16_000, maximumSeconds: .nan) }
        let session = try LiveSession(recordingFor: model, inputRate: 16_000, maximumSeconds: 600)
        session.stop()
        let source = RecordingSource(samples: [Float](repeating: 0.1, count: 16_000), sampleRate: 16_000, chunk: 100)
        try session.run(source: source)
        #expect(session.recording.isEmpty && source.stopped)
    }
}
