import Foundation
import Synchronization

/// What the capture thread reads from: `ALSACapture`, or a replay source in tests of the stream's
/// own logic (reconnection), where a real device cannot be made to vanish on demand.
public protocol CaptureDevice: AnyObject {
    var sampleRate: Int { get }
    var periodFrames: Int { get }
    /// Overruns recovered so far by the device.
    var overruns: Int { get }
    /// Reads one period (at most `periodFrames` mono samples) into `output`; returns the count.
    func read(into output: UnsafeMutablePointer<Float>) throws(CaptureError) -> Int
}

/// Stands in for a device that was closed while capture tries to reopen it.
private final class ReleasedDevice: CaptureDevice {
    let sampleRate: Int, periodFrames: Int
    let overruns = 0
    init(sampleRate: Int, periodFrames: Int) { self.sampleRate = sampleRate; self.periodFrames = periodFrames }
    func read(into output: UnsafeMutablePointer<Float>) throws(CaptureError) -> Int {
        throw .deviceGone(device: "(released)", reason: "closed while reconnecting")
    }
}

/// How long and how often a vanished device is reopened before capture gives up.
public struct ReconnectPolicy: Sendable, Equatable {
    /// Give up after this many seconds without a working device.
    public var timeoutSeconds: Double
    /// Pause between two attempts to reopen.
    public var intervalSeconds: Double

    public init(timeoutSeconds: Double, intervalSeconds: Double = 0.5) {
        self.timeoutSeconds = timeoutSeconds
        self.intervalSeconds = intervalSeconds
    }
}

/// A dedicated capture thread that reads a `CaptureDevice` period by period into an `SPSCRingBuffer`.
///
/// The capture thread never blocks on the consumer: when the ring is full (a stalled consumer), the
/// period's samples that do not fit are dropped and counted (`droppedSamples`), and capture goes on.
/// Device overruns are recovered inside the device and counted here too. A vanished device
/// (`CaptureError.deviceGone`) is reopened under the `ReconnectPolicy` (the audio in between is
/// lost: `disconnections`, `reconnections`); any other error, or a device that does not come back
/// in time, ends the thread and `failure` holds the error.
///
/// `pacedByClock`: `file`/`null` plugin devices return data as fast as they are asked, so tests and
/// replays pace reads to the device's real-time rate with an absolute monotonic clock.
///
/// The capture loop does not allocate in steady state; `onPeriod` (called on the capture thread
/// after each period) lets tests and benchmarks measure that.
public final class CaptureStream: @unchecked Sendable {
    public let ring: SPSCRingBuffer
    private let dropped = Atomic<Int>(0)
    private let captured = Atomic<Int>(0)
    private let overrunCount = Atomic<Int>(0)
    private let lostDevice = Atomic<Int>(0)
    private let reopened = Atomic<Int>(0)
    private let running = Atomic<Bool>(false)
    private let stopRequested = Atomic<Bool>(false)
    private let lock = NSLock()
    private var error: CaptureError?
    /// Set only when the first open fails (what the initialiser throws); later failures go to `error`.
    private var openError: CaptureError?
    private var opened: (sampleRate: Int, periodFrames: Int)?
    private let openedSignal = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    /// Samples stored in the ring so far / dropped because it was full / device overruns recovered.
    public var capturedSamples: Int { captured.load(ordering: .acquiring) }
    public var droppedSamples: Int { dropped.load(ordering: .acquiring) }
    public var deviceOverruns: Int { overrunCount.load(ordering: .acquiring) }
    /// Times the device vanished / was reopened successfully.
    public var disconnections: Int { lostDevice.load(ordering: .acquiring) }
    public var reconnections: Int { reopened.load(ordering: .acquiring) }
    public var isRunning: Bool { running.load(ordering: .acquiring) }
    /// Why the capture thread stopped on its own (nil while running or after `stop()`).
    public var failure: CaptureError? { lock.withLock { error } }
    /// The device's sample rate and period, once open.
    public var format: (sampleRate: Int, periodFrames: Int)? { lock.withLock { opened } }

    /// Opens the device on a new capture thread and starts reading; throws if it cannot be opened.
    /// - Parameters:
    ///   - reconnect: reopen a vanished device under this policy (nil: a vanished device ends capture).
    ///   - onPeriod: called on the capture thread after each period is stored.
    ///   - open: creates the device (called on the capture thread, which then owns it); called
    ///     again to reconnect.
    public init(ringCapacity: Int, pacedByClock: Bool = false, reconnect: ReconnectPolicy? = nil,
                onPeriod: (@Sendable () -> Void)? = nil,
                open: @escaping @Sendable () throws(CaptureError) -> any CaptureDevice) throws(CaptureError) {
        ring = SPSCRingBuffer(capacity: ringCapacity)
        running.store(true, ordering: .releasing)
        let thread = Thread { [self] in
            self.captureLoop(open: open, paced: pacedByClock, reconnect: reconnect, onPeriod: onPeriod)
        }
        thread.name = "spkv-capture"
        thread.start()
        openedSignal.wait()
        if let e = lock.withLock({ openError }) { finished.wait(); throw e }
    }

    private func fail(_ e: CaptureError) { lock.withLock { error = e } }

    private func captureLoop(open: () throws(CaptureError) -> any CaptureDevice, paced: Bool,
                             reconnect: ReconnectPolicy?, onPeriod: (() -> Void)?) {
        defer { running.store(false, ordering: .releasing); finished.signal() }
        var device: any CaptureDevice
        do { device = try open() } catch {
            lock.withLock { openError = error; self.error = error }
            openedSignal.signal()
            return
        }
        let rate = device.sampleRate
        lock.withLock { opened = (rate, device.periodFrames) }
        openedSignal.signal()
        var capacity = device.periodFrames
        var period = UnsafeMutablePointer<Float>.allocate(capacity: capacity)
        defer { period.deallocate() }
        var overrunsBefore = 0   // overruns of devices already closed
        var next = timespec()
        clock_gettime(CLOCK_MONOTONIC, &next)
        while !stopRequested.load(ordering: .acquiring) {
            if paced {
                let t = Int64(next.tv_nsec) + Int64(device.periodFrames) * 1_000_000_000 / Int64(rate)
                next.tv_sec += Int(t / 1_000_000_000); next.tv_nsec = Int(t % 1_000_000_000)
                clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nil)
            }
            let n: Int
            do { n = try device.read(into: period) } catch {
                guard case .deviceGone = error, let reconnect else { fail(error); return }
                lostDevice.add(1, ordering: .releasing)
                overrunsBefore += device.overruns
                // Release the vanished device (its PCM closes) before trying to open it again.
                device = ReleasedDevice(sampleRate: rate, periodFrames: device.periodFrames)
                guard let again = reopen(open, after: error, policy: reconnect, rate: rate) else { return }
                device = again
                reopened.add(1, ordering: .releasing)
                if device.periodFrames > capacity {
                    period.deallocate()
                    capacity = device.periodFrames
                    period = .allocate(capacity: capacity)
                }
                clock_gettime(CLOCK_MONOTONIC, &next)
                continue
            }
            overrunCount.store(overrunsBefore + device.overruns, ordering: .releasing)
            let stored = ring.write(UnsafeBufferPointer(start: period, count: n))
            captured.add(stored, ordering: .releasing)
            if stored < n { dropped.add(n - stored, ordering: .releasing) }
            onPeriod?()
        }
    }

    /// Tries to reopen the device every `intervalSeconds` until `timeoutSeconds`; nil (with `failure`
    /// set) when it does not come back, comes back at another rate, or `stop()` is called.
    private func reopen(_ open: () throws(CaptureError) -> any CaptureDevice, after gone: CaptureError,
                        policy: ReconnectPolicy, rate: Int) -> (any CaptureDevice)? {
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(max(0, policy.timeoutSeconds) * 1e9)
        var lastError = gone
        while !stopRequested.load(ordering: .acquiring) {
            do {
                let device = try open()
                guard device.sampleRate == rate else {
                    fail(.configure(device: Self.name(gone), step: "rate after reconnecting",
                                    reason: "came back at \(device.sampleRate) Hz instead of \(rate) Hz"))
                    return nil
                }
                return device
            } catch { lastError = error }
            guard DispatchTime.now().uptimeNanoseconds < deadline else {
                fail(.deviceGone(device: Self.name(gone),
                                 reason: "\(Self.reason(gone)); not back after \(policy.timeoutSeconds) s (last attempt: \(lastError))"))
                return nil
            }
            usleep(UInt32(max(0.001, policy.intervalSeconds) * 1e6))
        }
        return nil
    }

    private static func name(_ e: CaptureError) -> String {
        switch e { case .open(let d, _), .configure(let d, _, _), .read(let d, _), .deviceGone(let d, _): return d }
    }

    private static func reason(_ e: CaptureError) -> String {
        switch e { case .open(_, let r), .configure(_, _, let r), .read(_, let r), .deviceGone(_, let r): return r }
    }

    /// Asks the capture thread to stop and waits for it (at most one period or reconnect interval).
    public func stop() {
        guard !stopRequested.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if isRunning || failure == nil { finished.wait() }
    }

    deinit { stop() }
}
