import Foundation
import Testing
import _SVTestSupport

/// `spkv verify --live` through real alsa-lib: a `file`-plugin capture device replays recorded speech at
/// real-time pace, and the verdict equals batch `spkv verify` on the same seconds of audio.
@Suite struct CLILiveTests {
    static let model = Repo.model

    func run(_ tool: String, _ arguments: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [tool] + arguments
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(tool) \(arguments)")
    }

    /// Converts `wav` to raw S16_LE mono at `rate` and writes `<device>.conf` defining capture PCM `device`
    /// that replays it (a `file` plugin over a `null` slave); returns the configuration file's path.
    func fileDevice(_ device: String, replaying wav: String, rate: Int = 16_000, in dir: TemporaryDirectory) throws -> String {
        let raw = dir.path("\(device).s16le")
        try run("sox", [wav, "-t", "raw", "-e", "signed", "-b", "16", "-r", "\(rate)", "-c", "1", raw])
        let conf = dir.path("\(device).conf")
        try "pcm.\(device) { type file slave.pcm { type null } file \"/dev/null\" infile \"\(raw)\" format \"raw\" }"
            .write(toFile: conf, atomically: true, encoding: .utf8)
        return conf
    }

    @Test func liveVerificationReachesTheBatchDecisionOnTheSameAudio() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let speech = CLIFixtures.speech("speech_b_8s")
        let conf = try fileDevice("spkvcap", replaying: speech, in: dir)
        try run("sox", [speech, dir.path("b3.wav"), "trim", "0", "3"])
        let enroll = try spkv("enroll", "-m", Self.model, "--name", "a", "--output", dir.path("a.json"), CLIFixtures.speech("speech_a_3s"))
        #expect(enroll.status == 0, "\(enroll)")

        let live = try spkv("verify", "-m", Self.model, "--enrollment", dir.path("a.json"), "--live", "--device", "spkvcap",
                            "--alsa-config", conf, "--duration", "3", "--pace", "--threshold", "0.1", "--json")
        let batch = try spkv("verify", "-m", Self.model, "--enrollment", dir.path("a.json"), dir.path("b3.wav"), "--threshold", "0.1", "--json")
        let lines = live.stdoutLines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let verdict = try #require(lines.last), updates = Array(lines.dropLast())
        // 12 refreshes of 0.25 s, then the verdict; a refresh the worker could not start in time is
        // skipped and counted (the paced replay normally leaves it ample time).
        let skipped = verdict["skipped_refreshes"] as? Int ?? -1
        #expect(updates.count + skipped == 12 && updates.count == verdict["refreshes"] as? Int, "\(live)")
        let b = try #require(try JSONSerialization.jsonObject(with: Data(batch.stdout.utf8)) as? [String: Any])
        #expect(live.status == batch.status && verdict["verdict"] as? String == b["decision"] as? String, "\(live)\n\(batch)")
        #expect(abs((verdict["score"] as? Double ?? .nan) - (b["score"] as? Double ?? 0)) < 1e-9)
        #expect(verdict["dropped_samples"] as? Int == 0 && verdict["disconnections"] as? Int == 0)
        let times = updates.map { $0["time"] as? Double ?? 0 }
        #expect(times.allSatisfy { t in abs(t * 4 - (t * 4).rounded()) < 1e-9 } && zip(times, times.dropFirst()).allSatisfy { $0 < $1 })
        #expect(times.last == 3.0, "the last window is always scored")
        #expect(verdict["refresh_compute_ms_p99"] as? Double != nil && verdict["decision_delay_ms_p99"] as? Double != nil)
        #expect((verdict["real_time_factor"] as? Double ?? 0) > 0 && (verdict["cpu_share"] as? Double ?? 0) > 0)
    }

    @Test func aMissingDeviceOrFileIsAnErrorWithExitCodeOne() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let enroll = try spkv("enroll", "-m", Self.model, "--name", "a", "--output", dir.path("a.json"), CLIFixtures.speech("speech_a_3s"))
        #expect(enroll.status == 0)
        try "pcm.other { type null }".write(toFile: dir.path("c.conf"), atomically: true, encoding: .utf8)
        let missing = try spkv("verify", "-m", Self.model, "--enrollment", dir.path("a.json"), "--live", "--device", "nomic",
                               "--alsa-config", dir.path("c.conf"), "--threshold", "0.1")
        #expect(missing.status == 1 && missing.stderr.contains("'nomic'"), "\(missing)")
        let both = try spkv("verify", "-m", Self.model, "--enrollment", dir.path("a.json"), "--live", CLIFixtures.speech("speech_a_3s"))
        #expect(both.status == 64, "\(both)")
    }

    @Test func liveEnrollmentEqualsEnrollingTheSameSecondsFromAFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let speech = CLIFixtures.speech("speech_a_3s")
        let conf = try fileDevice("mic", replaying: speech, in: dir)
        try run("sox", [speech, dir.path("a3.wav"), "trim", "0", "3"])
        // Unpaced: 3 s fit in the 4 s capture ring, so the first 3 s arrive whole however fast the device is.
        let live = try spkv("enroll", "-m", Self.model, "--name", "a", "--output", dir.path("live.json"), "--live", "--device", "mic",
                            "--alsa-config", conf, "--duration", "3", "--min-speech", "1")
        let file = try spkv("enroll", "-m", Self.model, "--name", "a", "--output", dir.path("file.json"), dir.path("a3.wav"), "--min-speech", "1")
        #expect(live.status == 0 && file.status == 0, "\(live)\n\(file)")
        func embedding(_ path: String) throws -> [Double] {
            let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any]
            return object?["embedding"] as? [Double] ?? []
        }
        let a = try embedding(dir.path("live.json")), b = try embedding(dir.path("file.json"))
        #expect(!a.isEmpty && a == b)
        let none = try spkv("enroll", "-m", Self.model, "--name", "a", "--output", dir.path("x.json"))
        #expect(none.status == 64, "\(none)")
    }

    @Test func aDeviceAtAnotherRateIsResampledToTheModelRate() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let speech = CLIFixtures.speech("speech_b_8s")
        let conf = try fileDevice("mic48", replaying: speech, rate: 48_000, in: dir)
        try run("sox", [speech, dir.path("b3.wav"), "trim", "0", "3"])
        #expect(try spkv("enroll", "-m", Self.model, "--name", "a", "--output", dir.path("a.json"), CLIFixtures.speech("speech_a_3s")).status == 0)
        // Unpaced: 3 s at 48 kHz fit in the capture ring, so they arrive whole.
        let live = try spkv("verify", "-m", Self.model, "--enrollment", dir.path("a.json"), "--live", "--device", "mic48",
                            "--alsa-config", conf, "--capture-rate", "48000", "--duration", "3", "--threshold", "0.1", "--json")
        let batch = try spkv("verify", "-m", Self.model, "--enrollment", dir.path("a.json"), dir.path("b3.wav"), "--threshold", "0.1", "--json")
        #expect(live.stderr.contains("48000 Hz, resampled to 16000 Hz"), "\(live)")
        let verdict = try #require(live.stdoutLines.last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
        let b = try #require(try JSONSerialization.jsonObject(with: Data(batch.stdout.utf8)) as? [String: Any])
        #expect(live.status == batch.status && verdict["verdict"] as? String == b["decision"] as? String && verdict["seconds"] as? Double == 3)
        // Two resampling paths (sox 16 → 48 → ours 48 → 16 vs the fixture itself): close, not identical.
        #expect(abs((verdict["score"] as? Double ?? .nan) - (b["score"] as? Double ?? 0)) < 1e-2, "\(live)\n\(batch)")
    }
}
