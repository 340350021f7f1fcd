import Foundation
import Synchronization

/// A dedicated capture thread that reads an `ALSACapture` period by period into an `SPSCRingBuffer`.
///
/// The capture thread never blocks on the consumer: when the ring is full (a stalled consumer), the
/// period's samples that do not fit are dropped and counted (`droppedSamples`), and capture goes on.
/// Device overruns are recovered inside `ALSACapture` and counted here too. A device error ends the
/// thread; `failure` then holds it (a vanished microphone is `CaptureError.deviceGone`).
///
/// `pacedByClock`: `file`/`null` plugin devices return data as fast as they are asked, so tests and
/// replays pace reads to the device's real-time rate with an absolute monotonic clock.
public final class CaptureStream: @unchecked Sendable {
    public let ring: SPSCRingBuffer
    private let dropped = Atomic<Int>(0)
    private let captured = Atomic<Int>(0)
    private let overrunCount = Atomic<Int>(0)
    private let running = Atomic<Bool>(false)
    private let stopRequested = Atomic<Bool>(false)
    private let lock = NSLock()
    private var error: CaptureError?
    private var opened: (sampleRate: Int, periodFrames: Int)?
    private let openedSignal = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    /// Samples stored in the ring so far / dropped because it was full / device overruns recovered.
    public var capturedSamples: Int { captured.load(ordering: .acquiring) }
    public var droppedSamples: Int { dropped.load(ordering: .acquiring) }
    public var deviceOverruns: Int { overrunCount.load(ordering: .acquiring) }
    public var isRunning: Bool { running.load(ordering: .acquiring) }
    /// Why the capture thread stopped on its own (nil while running or after `stop()`).
    public var failure: CaptureError? { lock.withLock { error } }
    /// The device's sample rate and period, once open.
    public var format: (sampleRate: Int, periodFrames: Int)? { lock.withLock { opened } }

    /// Opens the device on a new capture thread and starts reading; throws if it cannot be opened.
    /// - Parameter open: creates the capture (called on the capture thread, which then owns it).
    public init(ringCapacity: Int, pacedByClock: Bool = false,
                open: @escaping @Sendable () throws(CaptureError) -> ALSACapture) throws(CaptureError) {
        ring = SPSCRingBuffer(capacity: ringCapacity)
        running.store(true, ordering: .releasing)
        let thread = Thread { [self] in self.captureLoop(open: open, paced: pacedByClock) }
        thread.name = "spkv-capture"
        thread.start()
        openedSignal.wait()
        if let e = failure { finished.wait(); throw e }
    }

    private func captureLoop(open: () throws(CaptureError) -> ALSACapture, paced: Bool) {
        defer { running.store(false, ordering: .releasing); finished.signal() }
        let capture: ALSACapture
        do { capture = try open() } catch {
            lock.withLock { self.error = error }
            openedSignal.signal()
            return
        }
        lock.withLock { opened = (capture.sampleRate, capture.periodFrames) }
        openedSignal.signal()
        let period = UnsafeMutablePointer<Float>.allocate(capacity: capture.periodFrames)
        defer { period.deallocate() }
        let periodNanos = Int64(capture.periodFrames) * 1_000_000_000 / Int64(capture.sampleRate)
        var next = timespec()
        clock_gettime(CLOCK_MONOTONIC, &next)
        while !stopRequested.load(ordering: .acquiring) {
            if paced {
                let t = Int64(next.tv_nsec) + periodNanos
                next.tv_sec += Int(t / 1_000_000_000); next.tv_nsec = Int(t % 1_000_000_000)
                clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nil)
            }
            let n: Int
            do { n = try capture.read(into: period) } catch {
                lock.withLock { self.error = error }
                return
            }
            overrunCount.store(capture.overruns, ordering: .releasing)
            let stored = ring.write(UnsafeBufferPointer(start: period, count: n))
            captured.add(stored, ordering: .releasing)
            if stored < n { dropped.add(n - stored, ordering: .releasing) }
        }
    }

    /// Asks the capture thread to stop and waits for it (at most one period).
    public func stop() {
        guard !stopRequested.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if isRunning || failure == nil { finished.wait() }
    }

    deinit { stop() }
}
