import Foundation
import Testing
import _SVTestSupport
@testable import SVALSA
import SVStreaming

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
        // alsa-lib's own diagnostic is routed into the error instead of stderr.
        #expect { try ALSACapture(device: "nosuchpcm2", configuration: "pcm.other { type null }") } throws: {
            "\($0)".contains("alsa-lib:") && "\($0)".contains("Unknown PCM nosuchpcm2")
        }
        #expect { try ALSACapture(device: "x", configuration: "pcm.x { type") } throws: { "\($0)".contains("invalid ALSA configuration") }
    }

    @Test func deviceListingWorksWithoutASoundCard() {
        let devices = ALSACapture.captureDevices()
        // alsa.conf always defines `null`, which can capture (zeros).
        #expect(devices.contains { $0.name == "null" } && devices.allSatisfy { !$0.name.isEmpty }, "\(devices)")
    }
}

/// The capture thread feeding the ring: real-time pacing, a stalled consumer, open failures.
@Suite struct CaptureStreamTests {
    static func device(_ dir: TemporaryDirectory, seconds: Double) throws -> (config: String, samples: [Int16]) {
        let samples = (0..<Int(seconds * 16_000)).map { Int16(truncatingIfNeeded: ($0 * 37) % 20_000 - 10_000) }
        try ALSACaptureTests.writeRaw(samples, to: dir.path("in.s16le"))
        return (ALSACaptureTests.fileDevice(dir.path("in.s16le")), samples)
    }

    @Test func pacedCaptureDeliversTheDeviceAudioInOrder() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (config, samples) = try Self.device(dir, seconds: 0.5)
        let start = Date()
        let stream = try CaptureStream(ringCapacity: 16_000, pacedByClock: true) { () throws(CaptureError) in
            try ALSACapture(device: "spkvcap", configuration: config, periodFrames: 160)
        }
        #expect(stream.format?.sampleRate == 16_000)
        var got: [Float] = []
        var chunk = [Float](repeating: 0, count: 800)
        while got.count < samples.count && Date().timeIntervalSince(start) < 10 {
            let n = chunk.withUnsafeMutableBufferPointer { stream.ring.read(into: $0) }
            got += chunk.prefix(n)
            if n == 0 { usleep(5_000) }
        }
        stream.stop()
        // Paced: 0.5 s of audio cannot arrive much faster than 0.5 s (no upper bound is asserted).
        #expect(Date().timeIntervalSince(start) >= 0.45)
        #expect(got.count >= samples.count && stream.droppedSamples == 0 && stream.failure == nil)
        #expect(zip(samples, got).filter { Float($0.0) / 32_768 != $0.1 }.count == 0)
    }

    @Test func aStalledConsumerLosesSamplesThatAreCountedAndCaptureGoesOn() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (config, samples) = try Self.device(dir, seconds: 1)
        let stream = try CaptureStream(ringCapacity: 1_600) { () throws(CaptureError) in
            try ALSACapture(device: "spkvcap", configuration: config, periodFrames: 160)
        }
        // Nobody reads: the unpaced device fills the ring at once, then periods are dropped and counted.
        let deadline = Date().addingTimeInterval(10)
        while stream.droppedSamples < 4_800 && Date() < deadline { usleep(1_000) }
        #expect(stream.droppedSamples >= 4_800 && stream.isRunning && stream.failure == nil)
        let before = stream.capturedSamples   // the ring is full: nothing more is stored until it is read
        #expect(before == 1_600)
        var first = [Float](repeating: 0, count: 1_600)
        #expect(first.withUnsafeMutableBufferPointer { stream.ring.read(into: $0) } == 1_600)
        #expect(zip(samples.prefix(1_600), first).filter { Float($0.0) / 32_768 != $0.1 }.count == 0, "the ring kept the oldest audio")
        // The consumer is back: capture continues into the freed space.
        while stream.capturedSamples == before && Date() < deadline { usleep(1_000) }
        #expect(stream.capturedSamples > before)
        stream.stop()
        #expect(!stream.isRunning)
    }

    @Test func anOpenFailureIsThrownByTheInitialiser() {
        #expect { try CaptureStream(ringCapacity: 160) { () throws(CaptureError) in try ALSACapture(device: "absent", configuration: "pcm.z { type null }") } }
            throws: { "\($0)".contains("'absent'") }
    }
}
