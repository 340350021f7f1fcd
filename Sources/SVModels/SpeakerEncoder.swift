import SVKernels

/// The encoder network of a model file, one case per architecture (`spkv.architecture`): what the
/// engine needs of any of them — sizes, a workspace, `embed` — in one place, and each network's own
/// type where a feature exists for one only (MagNetO and quantisation-aware training for ECAPA-TDNN).
public enum SpeakerEncoder: Sendable {
    case ecapa(ECAPAEncoder)
    case campplus(CAMPPlusEncoder)

    /// `spkv.architecture` of each case.
    public static let ecapaArchitecture = "ecapa-tdnn"
    public static let campplusArchitecture = "campplus"
    public static let architectures = [ecapaArchitecture, campplusArchitecture]

    public var architecture: String {
        switch self {
        case .ecapa: return Self.ecapaArchitecture
        case .campplus: return Self.campplusArchitecture
        }
    }

    /// Mel bins per frame the encoder reads.
    public var inputSize: Int {
        switch self {
        case .ecapa(let e): return e.config.inputSize
        case .campplus(let e): return e.inputSize
        }
    }

    public var embeddingSize: Int {
        switch self {
        case .ecapa(let e): return e.config.embeddingSize
        case .campplus(let e): return e.embeddingSize
        }
    }

    /// Fewest feature frames `embed` accepts.
    public var minimumFrames: Int {
        switch self {
        case .ecapa(let e): return e.minimumFrames
        case .campplus(let e): return e.minimumFrames
        }
    }

    /// Width of the pooled statistics the embedding layer reads.
    public var pooledSize: Int {
        switch self {
        case .ecapa(let e): return e.pooledSize
        case .campplus(let e): return e.pooledSize
        }
    }

    /// Weights and BatchNorm statistics, as the reference toolkit counts them.
    public var parameterCount: Int {
        switch self {
        case .ecapa(let e): return e.config.parameterCount
        case .campplus(let e): return e.config.parameterCount
        }
    }

    /// Multiply-accumulates of one `embed` over `frames` feature frames (for GFLOP/s reports).
    public func multiplyAccumulates(frames: Int) -> Int {
        switch self {
        case .ecapa(let e): return e.config.multiplyAccumulates(frames: frames)
        case .campplus(let e): return e.config.multiplyAccumulates(frames: frames)
        }
    }

    /// Whether the convolutions run the int8 kernels.
    public var isQuantized: Bool {
        switch self {
        case .ecapa(let e): return e.isQuantized
        case .campplus(let e): return e.isQuantized
        }
    }

    /// Whether every int8 convolution reads values that are never negative (CAM++: ReLU outputs), so
    /// post-training quantisation stores its inputs unsigned (scheme int8-static version 2).
    public var int8InputsAreNonNegative: Bool {
        if case .campplus = self { return true }
        return false
    }

    /// Tensor prefixes of the convolutions an int8 model of this architecture runs in int8.
    public var int8Convolutions: [String] {
        switch self {
        case .ecapa(let e): return e.config.int8Convolutions
        case .campplus(let e): return e.config.int8Convolutions
        }
    }

    /// The ECAPA-TDNN encoder, or nil for another architecture.
    public var ecapa: ECAPAEncoder? {
        if case .ecapa(let e) = self { return e }
        return nil
    }

    /// Embeds normalised features laid out (inputSize, frames) row-major into `output`
    /// (`embeddingSize` values). Not thread-safe per workspace; the encoder may be shared.
    public func embed(features: UnsafePointer<Float>, frames: Int, workspace: EncoderWorkspace,
                      output: UnsafeMutablePointer<Float>) throws(ECAPAError) {
        switch self {
        case .ecapa(let e): try e.embed(features: features, frames: frames, workspace: workspace.ecapa, output: output)
        case .campplus(let e): try e.embed(features: features, frames: frames, workspace: workspace.campplus, output: output)
        }
    }

    /// Convenience: features as a flat (inputSize × frames) array; returns the embedding.
    public func embed(features: [Float], frames: Int, workspace: EncoderWorkspace) throws(ECAPAError) -> [Float] {
        switch self {
        case .ecapa(let e): return try e.embed(features: features, frames: frames, workspace: workspace.ecapa)
        case .campplus(let e): return try e.embed(features: features, frames: frames, workspace: workspace.campplus)
        }
    }

    /// The pooled statistics of the most recent `embed` on `workspace`, what the embedding layer reads
    /// (ECAPA-TDNN: after its pooling BatchNorm; CAM++: mean and standard deviation): MagNetO's input.
    public func pooledStatistics(_ workspace: EncoderWorkspace) -> [Float] {
        switch self {
        case .ecapa(let e): return e.pooledStatistics(workspace.ecapa)
        case .campplus(let e): return e.pooledStatistics(workspace.campplus)
        }
    }
}

/// Scratch memory for one stream of `SpeakerEncoder.embed` calls, for whichever architecture runs
/// (each part stays empty until its network runs). Not thread-safe: one per thread.
public final class EncoderWorkspace: @unchecked Sendable {
    public let ecapa = ECAPAWorkspace()
    public let campplus = CAMPPlusWorkspace()

    public init() {}

    /// Bytes currently held (for memory reports).
    public var byteCount: Int { ecapa.byteCount + campplus.byteCount }
}
