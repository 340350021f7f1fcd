import Foundation
import SVKernels
import Synchronization
import Testing
import _SVTestSupport
@testable import SVAudio

/// Every failure mode gives its structured error, and its description names the file.
@Suite struct AudioErrorTests {
    typealias S = AudioTestSignals

    static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// Runs `readMono` and returns the error it must throw.
    static func readError(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) -> AudioError? {
        do throws(AudioError) {
            let clip = try AudioFile.readMono(path: path)
            Issue.record("expected an error, read \(clip.samples.count) samples", sourceLocation: sourceLocation)
            return nil
        } catch {
            let name = (path as NSString).lastPathComponent
            #expect(error.description.contains(name), "\(error)", sourceLocation: sourceLocation)
            #expect(error.path == path, sourceLocation: sourceLocation)
            return error
        }
    }

    @Test func missingFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("nobody-recorded-this.wav")
        #expect(Self.readError(path) == .fileNotFound(path: path))
        #expect(throws: AudioError.fileNotFound(path: path)) { try AudioFile.info(path: path) }
    }

    @Test func directoryIsNotAFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        guard case .cannotOpen = Self.readError(dir.url.path) else { Issue.record("expected cannotOpen"); return }
    }

    /// Root reads every file, and CI runs as root: there the read happens on a thread of its own whose
    /// file-system uid is nobody's (setfsuid is per thread and drops the file capabilities), so the
    /// kernel's permission check is real either way.
    @Test func unreadableFileUsesTheLibraryMessage() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("locked.wav")
        try AudioFile.write(path: path, samples: [0.1, 0.2], sampleRate: 16_000, format: .wav16)
        chmod(path, 0)
        let error = try asUnprivilegedFileUser { Self.readError(path) }
        guard case .cannotOpen(_, let reason) = error else { Issue.record("expected cannotOpen, got \(String(describing: error))"); return }
        #expect(reason.contains("ermission"))
    }

    /// Runs `body` with file permissions checked as for the user nobody: as is when not root, else on a
    /// new thread with setfsuid(65534) (restored before the thread ends; other threads keep root's).
    func asUnprivilegedFileUser<T: Sendable>(_ body: @escaping @Sendable () -> T) throws -> T {
        guard geteuid() == 0 else { return body() }
        typealias SetFSUID = @convention(c) (UInt32) -> Int32
        let setfsuid = unsafeBitCast(try #require(dlsym(nil, "setfsuid"), "setfsuid not found"), to: SetFSUID.self)
        let result = Mutex<T?>(nil)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            _ = setfsuid(65_534)
            let ok = setfsuid(UInt32.max) == 65_534  // an invalid id only reports the current one
            let value = ok ? body() : nil
            _ = setfsuid(0)
            result.withLock { $0 = value }
            done.signal()
        }
        thread.start()
        done.wait()
        return try #require(result.withLock { $0 }, "setfsuid(65534) did not take effect")
    }

    @Test func textIsNotAudio() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("notes.wav")
        try Self.write(Array("These are meeting notes, not a recording.\n".utf8), to: path)
        guard case .unrecognizedFormat = Self.readError(path) else { Issue.record("expected unrecognizedFormat"); return }
    }

    @Test func zeroByteFileAndZeroFrameWAVAreEmpty() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let empty = dir.path("zero-bytes.wav")
        try Self.write([], to: empty)
        #expect(Self.readError(empty) == .emptyAudio(path: empty))
        let noFrames = dir.path("no-frames.wav")
        try Self.write(S.wavBytes(formatTag: 1, channels: 1, sampleRate: 16_000, bitsPerSample: 16, data: []),
                       to: noFrames)
        #expect(Self.readError(noFrames) == .emptyAudio(path: noFrames))
    }

    /// A WAV whose `data` chunk was cut off: libsndfile alone would report the shorter length.
    @Test func truncatedWAV() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let full = dir.path("full.wav")
        try AudioFile.write(path: full, samples: S.tone(frequency: 300, sampleRate: 16_000, count: 16_000),
                            sampleRate: 16_000, format: .wav16)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: full)))
        let cut = dir.path("cut-off.wav")
        try Self.write(Array(bytes[0..<20_000]), to: cut)
        let readable = (20_000 - 44) / 2
        #expect(Self.readError(cut) == .truncated(path: cut, declaredFrames: 16_000, readFrames: readable))
        #expect(Self.readError(cut)?.description.contains("16000 frames") == true)
    }

    /// A few kilobytes of FLAC can declare an hour of silence: the header alone refuses it, before any
    /// decoding; within the limit it reads.
    @Test func audioLongerThanTheLimitIsRefusedFromItsHeader() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("forty-seconds.flac")
        try AudioFile.write(path: path, samples: [Float](repeating: 0, count: 40 * 8_000), sampleRate: 8_000, format: .flac16)
        #expect(throws: AudioError.tooLong(path: path, seconds: 40, limitSeconds: 30)) {
            try AudioFile.readMono(path: path, maximumSeconds: 30)
        }
        #expect(try AudioFile.readMono(path: path, maximumSeconds: 40).samples.count == 40 * 16_000)
        #expect(AudioError.tooLong(path: path, seconds: 40, limitSeconds: 30).description.contains("SPKV_MAX_AUDIO_SECONDS"))
    }

    /// Memory is bounded whatever the channel count: 10 s of 8-channel 48 kHz audio is 3.8 M samples,
    /// more than the 30-s limit allows at 96,000 samples a second (7.5 s of it). A limit out of range
    /// is an error, never a trap in the frame arithmetic.
    @Test func wideFilesGetFewerSecondsAndTheLimitIsRangeChecked() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("eight-channels.flac")
        try AudioFile.write(path: path, samples: [Float](repeating: 0, count: 10 * 48_000 * 8), sampleRate: 48_000, channels: 8,
                            format: .flac16)
        #expect(throws: AudioError.tooLong(path: path, seconds: 10, limitSeconds: 30)) {
            try AudioFile.readInterleaved(path: path, maximumSeconds: 30)
        }
        #expect(try AudioFile.readInterleaved(path: path, maximumSeconds: 60).samples.count == 10 * 48_000 * 8)
        for bad in [Double.nan, .infinity, 0, 1e300] {
            #expect(throws: AudioError.invalidLengthLimit(path: path, value: "\(bad)")) {
                try AudioFile.readMono(path: path, maximumSeconds: bad)
            }
        }
    }

    /// MP3 headers give no trustworthy length (libsndfile estimates it): decoding stops as soon as it
    /// passes the limit, so memory stays bounded by the limit, not by what the file expands to.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/sox"), "needs sox with libsox-fmt-mp3"))
    func mp3LongerThanTheLimitStopsDecodingAtTheLimit() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("silence.mp3")
        let sox = Process()
        sox.executableURL = URL(fileURLWithPath: "/usr/bin/sox")
        sox.arguments = ["-n", "-r", "16000", "-c", "1", "-C", "8", path, "trim", "0", "120"]
        try sox.run()
        sox.waitUntilExit()
        try #require(sox.terminationStatus == 0, "sox could not write mp3 (apt-get install libsox-fmt-mp3)")
        do {
            _ = try AudioFile.readMono(path: path, maximumSeconds: 60)
            Issue.record("no error")
        } catch {
            guard case .tooLong(_, let seconds, let limit) = error else { Issue.record("\(error)"); return }
            #expect(limit == 60 && seconds > 60 && seconds < 62, "decoding went on to \(seconds) s")
        }
        #expect(try AudioFile.readMono(path: path, maximumSeconds: 200).samples.count >= 119 * 16_000)
    }

    @Test func truncatedFLACIsAnError() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let full = dir.path("full.flac")
        try AudioFile.write(path: full, samples: S.tone(frequency: 300, sampleRate: 16_000, count: 16_000, amplitude: 0.5),
                            sampleRate: 16_000, format: .flac16)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: full)))
        let cut = dir.path("cut-off.flac")
        try Self.write(Array(bytes[0..<(bytes.count / 2)]), to: cut)
        guard case .truncated(_, let declared, let read) = Self.readError(cut) else {
            Issue.record("expected truncated"); return
        }
        #expect(declared == 16_000 && read < 16_000)
    }

    @Test("NaN or infinity in a float WAV names frame and time", arguments: [Float.nan, .infinity, -.infinity])
    func nonFiniteSample(bad: Float) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("corrupt-float.wav")
        var x = [Float](repeating: 0.1, count: 2 * 1_000)  // stereo, 1000 frames
        x[2 * 800 + 1] = bad  // frame 800, right channel
        try Self.write(S.wavBytes(formatTag: 3, channels: 2, sampleRate: 8_000, bitsPerSample: 32,
                                  data: S.floatBytes(x)), to: path)
        #expect(Self.readError(path) == .nonFiniteSample(path: path, frame: 800, channel: 1, seconds: 0.1))
        #expect(Self.readError(path)?.description.contains("t = 0.1 s") == true)
    }

    @Test("sample rate must be positive and sane", arguments: [0 as UInt32, 500, 3_000_000])
    func unsupportedSampleRate(rate: UInt32) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("rate-\(rate).wav")
        try Self.write(S.wavBytes(formatTag: 1, channels: 1, sampleRate: rate, bitsPerSample: 16,
                                  data: [UInt8](repeating: 0, count: 200)), to: path)
        // (libsndfile itself refuses a zero rate at open time; the reader still names the cause)
        #expect(Self.readError(path) == .unsupportedSampleRate(path: path, sampleRate: Int(rate)))
    }

    @Test func zeroChannels() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("no-channels.wav")
        try Self.write(S.wavBytes(formatTag: 1, channels: 0, sampleRate: 16_000, bitsPerSample: 16,
                                  data: [UInt8](repeating: 0, count: 200)), to: path)
        #expect(Self.readError(path) == .invalidChannelCount(path: path, channels: 0))
    }

    @Test func inMemoryValidation() {
        #expect(throws: AudioError.emptyAudio(path: "<memory>")) { try AudioClip(samples: [], sampleRate: 16_000) }
        #expect(throws: AudioError.nonFiniteSample(path: "mic", frame: 1_600, channel: 0, seconds: 0.1)) {
            var x = [Float](repeating: 0, count: 3_200)
            x[1_600] = .nan
            _ = try AudioClip(samples: x, sampleRate: 16_000, source: "mic")
        }
        #expect(throws: AudioError.unsupportedSampleRate(path: "<memory>", sampleRate: -8_000)) {
            try AudioClip(samples: [0], sampleRate: -8_000)
        }
        #expect(throws: AudioError.invalidChannelCount(path: "buf", channels: 0)) {
            try AudioClip.validate(samples: [0], sampleRate: 16_000, channels: 0, source: "buf")
        }
        #expect(throws: AudioError.sampleCountMismatch(path: "buf", samples: 3, channels: 2)) {
            try AudioClip.validate(samples: [0, 0, 0], sampleRate: 16_000, channels: 2, source: "buf")
        }
        #expect((try? AudioClip(samples: [0.5, -0.5], sampleRate: 8_000))?.duration == 0.00025)
    }

    @Test func writerRejectsBadInput() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("bad.wav")
        #expect(throws: AudioError.nonFiniteSample(path: path, frame: 1, channel: 0, seconds: 1.0 / 16_000)) {
            try AudioFile.write(path: path, samples: [0, .infinity], sampleRate: 16_000, format: .wav16)
        }
        #expect(throws: AudioError.self) {
            try AudioFile.write(path: dir.path("no/such/folder/x.wav"), samples: [0], sampleRate: 16_000, format: .wav16)
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    /// Garbage, cut and bit-flipped files only ever produce errors or valid audio, never a crash.
    @Test func fuzzedFilesNeverCrash() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var rng = SplitMix64(seed: 2024)
        var valid: [[UInt8]] = []
        for format in [AudioFileFormat.wav16, .wavFloat, .flac16, .oggVorbis] {
            let path = dir.path("seed.\(format.rawValue).\(format.fileExtension)")
            try AudioFile.write(path: path, samples: S.tone(frequency: 700, sampleRate: 16_000, count: 4_000, amplitude: 0.7),
                                sampleRate: 16_000, format: format)
            valid.append(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))))
        }
        let magics: [[UInt8]] = [[], Array("RIFF".utf8), Array("fLaC".utf8), Array("OggS".utf8), Array("FORM".utf8)]
        var cases: [[UInt8]] = []
        for magic in magics {
            for _ in 0..<6 {
                cases.append(magic + (0..<Int.random(in: 0...3_000, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
            }
        }
        for bytes in valid {
            for _ in 0..<12 { cases.append(Array(bytes[0..<Int.random(in: 0..<bytes.count, using: &rng)])) }
            for _ in 0..<8 {
                var flipped = bytes
                for _ in 0..<Int.random(in: 1...20, using: &rng) {
                    flipped[Int.random(in: 0..<flipped.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
                }
                cases.append(flipped)
            }
        }
        var errors = 0, decoded = 0
        for (i, bytes) in cases.enumerated() {
            let path = dir.path("fuzz-\(i).bin")
            try Self.write(bytes, to: path)
            do throws(AudioError) {
                let clip = try AudioFile.readMono(path: path)
                #expect(!clip.samples.isEmpty && PCM.firstNonFiniteIndex(clip.samples) == nil)
                decoded += 1
            } catch {
                #expect(error.description.contains("fuzz-\(i).bin"))
                errors += 1
            }
        }
        #expect(errors > 0 && decoded > 0, "both paths exercised: \(errors) errors, \(decoded) decoded")
    }
}
