import Foundation

/// `EnergyVAD` over a stream: frame energies are computed as samples arrive (frame f starts at
/// stream sample f·hop), and `speechSeconds(windowStart:end:)` classifies the frames lying inside a
/// window with the same floor/margin/hangover rule as batch `EnergyVAD`. Allocation-free after
/// `init`; one thread.
public final class StreamingEnergyVAD {
    public let vad: EnergyVAD
    /// Frame energies kept (the longest window that can be classified).
    public let capacityFrames: Int
    public private(set) var samplesPushed = 0
    public private(set) var framesComputed = 0

    private let energies: UnsafeMutablePointer<Double>
    private let window: UnsafeMutablePointer<Double>
    private let scratch: UnsafeMutablePointer<Double>
    private let speech: UnsafeMutablePointer<Bool>
    /// The samples of frames not yet complete: from stream index framesComputed·hop on.
    private let pending: UnsafeMutablePointer<Float>
    private var pendingCount = 0

    public init(vad: EnergyVAD, capacityFrames: Int) {
        precondition(capacityFrames > 0, "StreamingEnergyVAD: capacity must be positive")
        // Frames overlap or touch: the pending buffer keeps frame − hop samples (no skipping between frames).
        precondition(vad.hopSamples <= vad.frameSamples, "StreamingEnergyVAD: the hop must not exceed the frame")
        self.vad = vad
        self.capacityFrames = capacityFrames
        energies = .allocate(capacity: capacityFrames)
        window = .allocate(capacity: capacityFrames)
        scratch = .allocate(capacity: capacityFrames)
        speech = .allocate(capacity: capacityFrames)
        pending = .allocate(capacity: vad.frameSamples + vad.hopSamples)
    }

    deinit {
        energies.deallocate(); window.deallocate(); scratch.deallocate(); speech.deallocate(); pending.deallocate()
    }

    public func push(_ samples: UnsafeBufferPointer<Float>) {
        let frame = vad.frameSamples, hop = vad.hopSamples
        for x in samples {
            pending[pendingCount] = x.isFinite ? x : 0
            pendingCount += 1
            samplesPushed += 1
            guard pendingCount == frame else { continue }
            energies[framesComputed % capacityFrames] = vad.frameEnergy(pending)
            framesComputed += 1
            // Keep the overlap with the next frame (frame − hop samples; all of them when hop ≥ frame).
            let keep = max(0, frame - hop)
            if keep > 0 { memmove(pending, pending + hop, keep * MemoryLayout<Float>.stride) }
            pendingCount = keep
        }
    }

    /// Seconds of speech among the frames that lie inside stream samples [start, end) and are
    /// still kept; 0 when there are none.
    public func speechSeconds(windowStart start: Int, end: Int) -> Double {
        let hop = vad.hopSamples, frame = vad.frameSamples
        let first = max((max(0, start) + hop - 1) / hop, framesComputed - capacityFrames)
        let last = min((end - frame) / hop, framesComputed - 1)   // inclusive
        guard end >= frame, last >= first else { return 0 }
        let count = last - first + 1
        for k in 0..<count { window[k] = energies[(first + k) % capacityFrames] }
        let speechFrames = vad.classify(energies: UnsafeBufferPointer(start: window, count: count),
                                        scratch: UnsafeMutableBufferPointer(start: scratch, count: count),
                                        speech: UnsafeMutableBufferPointer(start: speech, count: count))
        return Double(speechFrames) * vad.hopSeconds
    }
}
