import Foundation
import Testing
import _SVTestSupport
@testable import SVStreaming

/// Real alsa-lib capture without a sound card: a `file` plugin over a `null` slave replays raw S16_LE
/// audio as a capture device, defined by configuration text (PLATFORM.md §5).
@Suite struct ALSACaptureTests {
    /// Configuration defining capture PCM `spkvcap` that replays `path` (raw S16_LE, 16 kHz, mono).
    static func fileDevice(_ path: String) -> String {
        """
        pcm.spkvcap {
            type file
            slave.pcm { type null }
            file "/dev/null"
            infile "\(path)"
            format "raw"
        }
        """
    }

    static func writeRaw(_ samples: [Int16], to path: String) throws {
        let data = samples.withUnsafeBufferPointer { Data(buffer: $0) }
        try data.write(to: URL(fileURLWithPath: path))
    }

    @Test func capturesWhatTheDeviceDeliversPeriodByPeriod() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let samples = (0..<16_000).map { Int16(truncatingIfNeeded: Int((sin(Double($0) * 2 * .pi * 440 / 16_000) * 20_000).rounded())) }
        try Self.writeRaw(samples, to: dir.path("sine.s16le"))
        let capture = try ALSACapture(device: "spkvcap", configuration: Self.fileDevice(dir.path("sine.s16le")), periodFrames: 160)
        #expect(capture.sampleFormat == .s16 && capture.sampleRate == 16_000 && capture.channels == 1)
        #expect(capture.periodFrames > 0 && capture.periodFrames <= capture.bufferFrames)
        var got: [Float] = []
        let period = UnsafeMutablePointer<Float>.allocate(capacity: capture.periodFrames)
        defer { period.deallocate() }
        while got.count < samples.count {
            let n = try capture.read(into: period)
            #expect(n == capture.periodFrames)
            got += UnsafeBufferPointer(start: period, count: n)
        }
        let mismatches = zip(samples, got).filter { Float($0.0) / 32_768 != $0.1 }.count
        #expect(mismatches == 0 && capture.overruns == 0)
        // Past the end of the file the device keeps delivering periods (the null slave never ends).
        #expect(try capture.read(into: period) == capture.periodFrames)
    }

    @Test func unknownDevicesAndBadConfigurationsAreNamedErrors() {
        #expect { try ALSACapture(device: "nosuchpcm", configuration: "pcm.other { type null }") } throws: {
            "\($0)".contains("'nosuchpcm'") && "\($0)".contains("spkv devices")
        }
        #expect { try ALSACapture(device: "x", configuration: "pcm.x { type") } throws: { "\($0)".contains("invalid ALSA configuration") }
    }

    @Test func deviceListingDoesNotFailWithoutASoundCard() {
        for d in ALSACapture.captureDevices() { #expect(!d.name.isEmpty) }
    }
}
