/// Mono audio at a known sample rate, validated: non-empty, finite, supported rate.
public struct AudioClip: Sendable, Equatable {
    /// Mono samples, nominally in [-1, 1] (float files may exceed it; nothing is clipped).
    public let samples: [Float]
    public let sampleRate: Int

    /// Length in seconds.
    public var duration: Double { Double(samples.count) / Double(sampleRate) }

    /// Validates `samples` (see `AudioClip.validate`); `source` names them in errors.
    public init(samples: [Float], sampleRate: Int, source: String = "<memory>") throws(AudioError) {
        try Self.validate(samples: samples, sampleRate: sampleRate, channels: 1, source: source)
        self.samples = samples
        self.sampleRate = sampleRate
    }

    /// For callers that have just validated (the reader).
    init(unchecked samples: [Float], sampleRate: Int) {
        self.samples = samples
        self.sampleRate = sampleRate
    }

    /// Checks interleaved samples: rate in `AudioFile.supportedSampleRates`, 1...`maxChannels`
    /// channels, whole frames, at least one frame, no NaN or infinity (reported with frame, channel and
    /// time).
    public static func validate(samples: [Float], sampleRate: Int, channels: Int = 1,
                                source: String = "<memory>") throws(AudioError) {
        guard AudioFile.supportedSampleRates.contains(sampleRate) else {
            throw .unsupportedSampleRate(path: source, sampleRate: sampleRate)
        }
        guard (1...AudioFile.maxChannels).contains(channels) else {
            throw .invalidChannelCount(path: source, channels: channels)
        }
        guard samples.count % channels == 0 else {
            throw .sampleCountMismatch(path: source, samples: samples.count, channels: channels)
        }
        guard !samples.isEmpty else { throw .emptyAudio(path: source) }
        if let index = PCM.firstNonFiniteIndex(samples) {
            let frame = index / channels
            throw .nonFiniteSample(path: source, frame: frame, channel: index % channels,
                                   seconds: Double(frame) / Double(sampleRate))
        }
    }
}

/// Sample-buffer helpers.
public enum PCM {
    /// Mean of the channels of interleaved `samples` (`channels` ≥ 1; a trailing partial frame is
    /// dropped). One channel returns the input.
    public static func mixdown(_ samples: [Float], channels: Int) -> [Float] {
        precondition(channels >= 1, "PCM.mixdown: channels must be ≥ 1, got \(channels)")
        if channels == 1 { return samples }
        let frames = samples.count / channels
        let scale = 1 / Float(channels)
        return [Float](unsafeUninitializedCapacity: frames) { out, initialized in
            samples.withUnsafeBufferPointer { x in
                for f in 0..<frames {
                    var acc: Float = 0
                    let base = f * channels
                    for c in 0..<channels { acc += x[base + c] }
                    out[f] = acc * scale
                }
            }
            initialized = frames
        }
    }

    /// Index of the first NaN or infinite sample, or nil.
    public static func firstNonFiniteIndex(_ samples: [Float]) -> Int? {
        samples.withUnsafeBufferPointer { x in x.firstIndex { !$0.isFinite } }
    }
}
