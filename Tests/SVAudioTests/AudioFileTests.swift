import Foundation
import Testing
import _SVTestSupport
@testable import SVAudio

/// Writer → reader round trips through libsndfile, mixdown and `readMono`.
@Suite struct AudioFileTests {
    typealias S = AudioTestSignals

    /// Largest round-trip error per format for |x| ≤ 0.9 (libsndfile scales by 2^(b-1)-1 on write and
    /// 2^(b-1) on read, plus rounding: below two quantisation steps).
    static func roundTripTolerance(_ format: AudioFileFormat) -> Float {
        switch format {
        case .wav8: return 2 / 128
        case .wav16, .flac16: return 2 / 32_768
        case .wav24, .flac24: return 2 / 8_388_608
        case .wav32: return 1e-6
        case .wavFloat: return 0
        case .oggVorbis: return .infinity  // lossy: checked by tone fit below
        }
    }

    /// A stereo-capable test signal: channel c is a tone at 440·(c+1) Hz with amplitude 0.9 / (c+1).
    static func signal(sampleRate: Int, channels: Int, frames: Int) -> [Float] {
        let tones = (0..<channels).map {
            S.tone(frequency: 440 * Double($0 + 1), sampleRate: sampleRate, count: frames, amplitude: 0.9 / Double($0 + 1))
        }
        return (0..<(frames * channels)).map { tones[$0 % channels][$0 / channels] }
    }

    @Test("lossless round trip", arguments: [AudioFileFormat.wav8, .wav16, .wav24, .wav32, .wavFloat, .flac16, .flac24],
          [(8_000, 1), (16_000, 2), (22_050, 1), (44_100, 2), (48_000, 1)])
    func losslessRoundTrip(format: AudioFileFormat, layout: (rate: Int, channels: Int)) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("tone-\(layout.rate)-\(layout.channels).\(format.fileExtension)")
        let frames = layout.rate / 20
        let x = Self.signal(sampleRate: layout.rate, channels: layout.channels, frames: frames)
        try AudioFile.write(path: path, samples: x, sampleRate: layout.rate, channels: layout.channels, format: format)

        let info = try AudioFile.info(path: path)
        #expect(info == AudioFileInfo(frames: frames, sampleRate: layout.rate, channels: layout.channels,
                                      formatName: info.formatName))
        #expect(info.formatName.contains(format.fileExtension == "wav" ? "WAV" : "FLAC"))
        let (y, readInfo) = try AudioFile.readInterleaved(path: path)
        #expect(readInfo == info)
        #expect(y.count == x.count)
        #expect(maxAbsDifference(x, y) <= Self.roundTripTolerance(format))
    }

    @Test("OGG/Vorbis round trip keeps length and the tone", arguments: [(16_000, 1), (44_100, 2), (48_000, 1)])
    func vorbisRoundTrip(rate: Int, channels: Int) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("tone.ogg")
        let frames = rate / 2
        let x = Self.signal(sampleRate: rate, channels: channels, frames: frames)
        try AudioFile.write(path: path, samples: x, sampleRate: rate, channels: channels, format: .oggVorbis)
        let (y, info) = try AudioFile.readInterleaved(path: path)
        #expect(info.frames == frames && info.channels == channels && info.sampleRate == rate)
        #expect(info.formatName.contains("OGG") && info.formatName.contains("Vorbis"))
        let left = (0..<frames).map { y[$0 * channels] }
        let fit = S.fitTone(left, frequency: 440, sampleRate: rate, range: (frames / 10)..<(frames * 9 / 10))
        #expect(abs(S.decibels(fit.amplitude, relativeTo: 0.9)) < 0.5)
        #expect(S.decibels(fit.residualRMS, relativeTo: 0.9 / 2.squareRoot()) < -30)
    }

    @Test func integerFormatsClipInsteadOfWrapping() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("loud.wav")
        try AudioFile.write(path: path, samples: [1.5, -1.5, 0.25], sampleRate: 16_000, format: .wav16)
        let (y, _) = try AudioFile.readInterleaved(path: path)
        #expect(y[0] > 0.999 && y[1] <= -0.999 && abs(y[2] - 0.25) < 1e-4)
    }

    @Test func mixdownIsTheMeanOfTheChannels() {
        #expect(PCM.mixdown([1, 0, 0.5, -0.5, -1, 1], channels: 2) == [0.5, 0, 0])
        #expect(PCM.mixdown([0.3, 0.6, 0.9], channels: 3) == [0.6])
        #expect(PCM.mixdown([0.1, 0.2], channels: 1) == [0.1, 0.2])
    }

    @Test func readMonoMixesStereoToMono() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("stereo.wav")
        let frames = 1_600
        let left = S.tone(frequency: 500, sampleRate: 16_000, count: frames, amplitude: 0.6)
        let right = S.tone(frequency: 1_500, sampleRate: 16_000, count: frames, amplitude: 0.2)
        let interleaved: [Float] = zip(left, right).flatMap { [$0.0, $0.1] }
        try AudioFile.write(path: path, samples: interleaved, sampleRate: 16_000, channels: 2, format: .wavFloat)
        let clip = try AudioFile.readMono(path: path)
        #expect(clip.sampleRate == 16_000 && clip.samples.count == frames && clip.duration == 0.1)
        let mean: [Float] = zip(left, right).map { ($0.0 + $0.1) / 2 }
        #expect(maxAbsDifference(clip.samples, mean) < 1e-7)
    }

    /// The engine path: a 44.1 kHz stereo s24 file becomes a 16 kHz mono clip in phase with the tone.
    @Test func readMonoResamplesToTheEngineRate() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("speechlike.flac")
        let frames = 44_100 / 4
        let tone = S.tone(frequency: 1_000, sampleRate: 44_100, count: frames, amplitude: 0.5)
        try AudioFile.write(path: path, samples: tone.flatMap { [$0, $0] }, sampleRate: 44_100, channels: 2,
                            format: .flac24)
        let clip = try AudioFile.readMono(path: path, sampleRate: 16_000)
        #expect(clip.sampleRate == 16_000 && clip.samples.count == 4_000)
        let expected = S.tone(frequency: 1_000, sampleRate: 16_000, count: 4_000, amplitude: 0.5)
        #expect(maxAbsDifference(clip.samples[200..<3_800], expected[200..<3_800]) < 1e-3)
    }

    @Test func writeIsAtomicAndLeavesNoTemporaryFiles() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("out.wav")
        try AudioFile.write(path: path, samples: [0.1, 0.2], sampleRate: 16_000, format: .wav16)
        try AudioFile.write(path: path, samples: [0.3, 0.4, 0.5], sampleRate: 16_000, format: .wav16)  // replaces
        #expect(try AudioFile.info(path: path).frames == 3)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path) == ["out.wav"])
        // A failed write (bad rate) leaves the old file in place and nothing else.
        #expect(throws: AudioError.unsupportedSampleRate(path: path, sampleRate: 0)) {
            try AudioFile.write(path: path, samples: [0.1], sampleRate: 0, format: .wav16)
        }
        #expect(throws: AudioError.self) {
            try AudioFile.write(path: path, samples: [0.1], sampleRate: 700_000, format: .oggVorbis)
        }
        #expect(try AudioFile.info(path: path).frames == 3)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path) == ["out.wav"])
    }
}
