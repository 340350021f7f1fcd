import Foundation
import Synchronization
import Testing
import _SVAllocationProbe
import _SVTestSupport
import SVKernels
@testable import SVStreaming

/// Counts one test's replay devices that are alive, so the reconnect test can check the vanished
/// one was released before reopening. Per test: the suite's tests run in parallel, and a
/// process-wide count would see the other tests' devices.
private final class DeviceCensus: Sendable {
    let alive = Atomic<Int>(0)
    let mostAliveDuringReopen = Atomic<Int>(0)

    /// An opening attempt that fails, as for an unplugged microphone, and records how many of this
    /// census's devices were alive meanwhile.
    var missingDevice: @Sendable () throws(CaptureError) -> any CaptureDevice {
        { [self] () throws(CaptureError) in
            let now = alive.load(ordering: .relaxed)
            mostAliveDuringReopen.store(max(mostAliveDuringReopen.load(ordering: .relaxed), now), ordering: .relaxed)
            throw CaptureError.open(device: "usbmic", reason: "No such file or directory")
        }
    }
}

/// A replay source that vanishes after `periodsBeforeGone` periods, as an unplugged USB microphone
/// does (alsa-lib reports -ENODEV); used where a real device cannot be made to vanish on demand.
private final class VanishingDevice: CaptureDevice {
    let sampleRate: Int
    let periodFrames = 160
    let overruns = 0
    private let periodsBeforeGone: Int?
    private var periods = 0
    private let firstValue: Int
    private let census: DeviceCensus?

    init(sampleRate: Int = 16_000, periodsBeforeGone: Int?, firstValue: Int, census: DeviceCensus? = nil) {
        self.sampleRate = sampleRate
        self.periodsBeforeGone = periodsBeforeGone
        self.firstValue = firstValue
        self.census = census
        census?.alive.add(1, ordering: .relaxed)
    }

    deinit { census?.alive.subtract(1, ordering: .relaxed) }

    func read(into output: UnsafeMutablePointer<Float>) throws(CaptureError) -> Int {
        if let limit = periodsBeforeGone, periods == limit { throw .deviceGone(device: "usbmic", reason: "No such device") }
        for i in 0..<periodFrames { output[i] = Float(firstValue + periods * periodFrames + i) }
        periods += 1
        return periodFrames
    }
}

/// Opening attempts, answered from a script: a device, or the error a missing device gives.
private final class OpenScript: Sendable {
    let attempts = Atomic<Int>(0)
    let answers: [@Sendable () throws(CaptureError) -> any CaptureDevice]
    init(_ answers: [@Sendable () throws(CaptureError) -> any CaptureDevice]) { self.answers = answers }
    func open() throws(CaptureError) -> any CaptureDevice {
        let k = attempts.add(1, ordering: .relaxed).newValue - 1
        return try answers[min(k, answers.count - 1)]()
    }
}

@Suite struct CaptureReconnectTests {
    private static let missing: @Sendable () throws(CaptureError) -> any CaptureDevice = { () throws(CaptureError) in
        throw CaptureError.open(device: "usbmic", reason: "No such file or directory")
    }

    @Test func aVanishedDeviceIsReopenedAndCaptureGoesOn() throws {
        let census = DeviceCensus()
        let script = OpenScript([
            { VanishingDevice(periodsBeforeGone: 5, firstValue: 0, census: census) },
            census.missingDevice, census.missingDevice,
            { VanishingDevice(periodsBeforeGone: nil, firstValue: 1_000_000, census: census) },
        ])
        let stream = try CaptureStream(ringCapacity: 16_000, reconnect: ReconnectPolicy(timeoutSeconds: 5, intervalSeconds: 0.01)) {
            () throws(CaptureError) in try script.open()
        }
        let deadline = Date().addingTimeInterval(10)
        while stream.capturedSamples < 10 * 160 && Date() < deadline { usleep(1_000) }
        stream.stop()
        #expect(stream.failure == nil && stream.disconnections == 1 && stream.reconnections == 1)
        #expect(script.attempts.load(ordering: .relaxed) == 4)
        #expect(census.mostAliveDuringReopen.load(ordering: .relaxed) == 0, "the vanished device was released before reopening")
        var got = [Float](repeating: 0, count: 10 * 160)
        #expect(got.withUnsafeMutableBufferPointer { stream.ring.read(into: $0) } == 10 * 160)
        // The first device's five periods, then the reopened device's audio from its start.
        #expect(got[0] == 0 && got[5 * 160 - 1] == Float(5 * 160 - 1) && got[5 * 160] == 1_000_000)
    }

    @Test func aDeviceThatDoesNotComeBackEndsCaptureWithAClearError() throws {
        let script = OpenScript([{ VanishingDevice(periodsBeforeGone: 2, firstValue: 0) }, Self.missing])
        let stream = try CaptureStream(ringCapacity: 16_000, reconnect: ReconnectPolicy(timeoutSeconds: 0.1, intervalSeconds: 0.02)) {
            () throws(CaptureError) in try script.open()
        }
        let deadline = Date().addingTimeInterval(10)
        while stream.isRunning && Date() < deadline { usleep(1_000) }
        let failure = try #require(stream.failure)
        #expect("\(failure)".contains("'usbmic' is gone") && "\(failure)".contains("not back after 0.1 s"), "\(failure)")
        #expect(script.attempts.load(ordering: .relaxed) >= 3 && stream.reconnections == 0 && stream.disconnections == 1)
    }

    @Test func withoutAPolicyAVanishedDeviceEndsCapture() throws {
        let stream = try CaptureStream(ringCapacity: 16_000) { () throws(CaptureError) in VanishingDevice(periodsBeforeGone: 1, firstValue: 0) }
        let deadline = Date().addingTimeInterval(10)
        while stream.isRunning && Date() < deadline { usleep(1_000) }
        #expect(stream.failure == .deviceGone(device: "usbmic", reason: "No such device"))
    }

    @Test func aDeviceThatComesBackAtAnotherRateIsRefused() throws {
        let script = OpenScript([{ VanishingDevice(periodsBeforeGone: 1, firstValue: 0) },
                                 { VanishingDevice(sampleRate: 48_000, periodsBeforeGone: nil, firstValue: 0) }])
        let stream = try CaptureStream(ringCapacity: 16_000, reconnect: ReconnectPolicy(timeoutSeconds: 5, intervalSeconds: 0.01)) {
            () throws(CaptureError) in try script.open()
        }
        let deadline = Date().addingTimeInterval(10)
        while stream.isRunning && Date() < deadline { usleep(1_000) }
        #expect("\(try #require(stream.failure))".contains("came back at 48000 Hz instead of 16000 Hz"))
    }

    /// The capture loop itself (pacing, ring write, counters) makes no heap allocation once running.
    /// Measured with a replay device so that only our loop is counted (alsa-lib's plugins are not
    /// ours; `spkv-live-bench` reports the whole capture thread with the `file` plugin).
    @Test func theCaptureLoopDoesNotAllocateInSteadyState() throws {
        let periods = Atomic<Int>(0), allocationsAtWarm = Atomic<Int>(-1), allocationsNow = Atomic<Int>(0)
        let stream = try CaptureStream(ringCapacity: 1 << 20, pacedByClock: false, onPeriod: {
            let count = Int(spkv_thread_allocations())
            let k = periods.add(1, ordering: .relaxed).newValue
            if k == 20 { allocationsAtWarm.store(count, ordering: .relaxed) }
            allocationsNow.store(count, ordering: .relaxed)
        }) { () throws(CaptureError) in VanishingDevice(periodsBeforeGone: nil, firstValue: 0) }
        let deadline = Date().addingTimeInterval(10)
        while periods.load(ordering: .relaxed) < 1_000 && Date() < deadline { usleep(1_000) }
        stream.stop()
        let warm = allocationsAtWarm.load(ordering: .relaxed)
        #expect(periods.load(ordering: .relaxed) >= 1_000 && warm >= 0)
        #expect(allocationsNow.load(ordering: .relaxed) == warm, "allocations on the capture thread after warm-up")
        // The probe itself counts: this thread allocates when it builds an array.
        let before = spkv_thread_allocations()
        let array = [Int](repeating: 1, count: 1_000 + periods.load(ordering: .relaxed))
        #expect(spkv_thread_allocations() > before && array.count > 1_000)
    }
}

/// The streaming VAD classifies a window's frames exactly as batch `EnergyVAD` classifies the window's samples.
@Suite struct StreamingEnergyVADTests {
    @Test func windowsAlignedToTheHopMatchBatch() {
        var rng = SplitMix64(seed: 5)
        let samples = (0..<(16_000 * 8)).map { i -> Float in
            let loud = (i / 5_000) % 3 != 0
            return (rng.nextFloat() - 0.5) * (loud ? 0.6 : 0.004) * Float(1 + (i / 16_000) % 2)
        }
        let vad = EnergyVAD(sampleRate: 16_000)
        let stream = StreamingEnergyVAD(vad: vad, capacityFrames: 301)
        var checked = 0, pushed = 0
        while pushed < samples.count {
            let n = min(samples.count - pushed, 4_000)
            samples[pushed..<(pushed + n)].withUnsafeBufferPointer { stream.push($0) }
            pushed += n
            let start = max(0, pushed - 48_000)
            let batch = vad.speechSeconds(Array(samples[start..<pushed]))
            #expect(abs(stream.speechSeconds(windowStart: start, end: pushed) - batch) < 1e-12, "window ending at \(pushed)")
            if batch > 0.5 && batch < 2.5 { checked += 1 }
        }
        #expect(checked >= 3, "windows with partial speech were compared")
    }

    @Test func quickselectFindsTheOrderStatistic() {
        var rng = SplitMix64(seed: 9)
        for count in [1, 2, 3, 10, 301] {
            let values = (0..<count).map { _ in Double(rng.next() % 50) }
            for k in [0, count / 10, count / 2, count - 1] {
                var copy = values
                let got = copy.withUnsafeMutableBufferPointer { EnergyVAD.select(k, in: $0) }
                #expect(got == values.sorted()[k])
            }
        }
    }
}
