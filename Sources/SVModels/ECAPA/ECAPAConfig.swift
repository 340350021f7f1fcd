import SVKernels

/// Hyperparameters of an ECAPA-TDNN encoder, stored as `spkv.config` in every model file.
///
/// `channels` has five entries: the first block, the three SE-Res2Net blocks (all equal), and the
/// multi-layer feature aggregation (MFA) layer, e.g. `[512, 512, 512, 512, 1536]`.
public struct ECAPAConfig: Codable, Equatable, Sendable {
    /// Which toolkit's flavour of the network; they differ in a few wiring details.
    public enum Variant: String, Codable, Sendable, CaseIterable {
        /// SpeechBrain's `ECAPA_TDNN` (also sslsv's port): conv→ReLU→BN everywhere, reflect padding,
        /// plain chaining of the SE-Res2Net blocks, BN in the MFA layer and in the attention.
        case speechbrain
        /// WeSpeaker's `ECAPA_TDNN_GLOB`: zero padding, the unconvolved Res2Net chunk last, no BN
        /// in the MFA layer or the attention, ASTP statistics (unbiased global variance + 1e-7,
        /// pooled variance E[x²]−μ² floored at 1e-7), `nn.Linear` SE and output layers.
        case wespeaker
    }

    public var variant: Variant
    public var inputSize: Int
    public var channels: [Int]
    public var kernelSizes: [Int]
    public var dilations: [Int]
    public var res2netScale: Int
    public var seChannels: Int
    public var attentionChannels: Int
    public var globalContext: Bool
    public var embeddingSize: Int
    public var padding: PaddingMode
    /// BatchNorm epsilon (PyTorch default 1e-5).
    public var batchNormEpsilon: Float

    enum CodingKeys: String, CodingKey {
        case variant, channels, dilations, padding
        case inputSize = "input_size", kernelSizes = "kernel_sizes", res2netScale = "res2net_scale"
        case seChannels = "se_channels", attentionChannels = "attention_channels"
        case globalContext = "global_context", embeddingSize = "embedding_size"
        case batchNormEpsilon = "batch_norm_eps"
    }

    public init(variant: Variant = .speechbrain, inputSize: Int = 80, channels: [Int] = [512, 512, 512, 512, 1536],
                kernelSizes: [Int] = [5, 3, 3, 3, 1], dilations: [Int] = [1, 2, 3, 4, 1],
                res2netScale: Int = 8, seChannels: Int = 128, attentionChannels: Int = 128,
                globalContext: Bool = true, embeddingSize: Int = 192, padding: PaddingMode = .reflect,
                batchNormEpsilon: Float = 1e-5) {
        self.variant = variant; self.inputSize = inputSize; self.channels = channels
        self.kernelSizes = kernelSizes; self.dilations = dilations; self.res2netScale = res2netScale
        self.seChannels = seChannels; self.attentionChannels = attentionChannels
        self.globalContext = globalContext; self.embeddingSize = embeddingSize; self.padding = padding
        self.batchNormEpsilon = batchNormEpsilon
    }

    /// Decodes with the SpeechBrain defaults for keys a file leaves out (`variant`, kernel sizes,
    /// dilations, Res2Net scale, bottlenecks, global context, padding, BN epsilon); sizes are required.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ECAPAConfig(inputSize: 1, channels: [8, 8, 8, 8, 8], embeddingSize: 1)
        variant = try c.decodeIfPresent(Variant.self, forKey: .variant) ?? .speechbrain
        inputSize = try c.decode(Int.self, forKey: .inputSize)
        channels = try c.decode([Int].self, forKey: .channels)
        embeddingSize = try c.decode(Int.self, forKey: .embeddingSize)
        kernelSizes = try c.decodeIfPresent([Int].self, forKey: .kernelSizes) ?? d.kernelSizes
        dilations = try c.decodeIfPresent([Int].self, forKey: .dilations) ?? d.dilations
        res2netScale = try c.decodeIfPresent(Int.self, forKey: .res2netScale) ?? d.res2netScale
        seChannels = try c.decodeIfPresent(Int.self, forKey: .seChannels) ?? d.seChannels
        attentionChannels = try c.decodeIfPresent(Int.self, forKey: .attentionChannels) ?? d.attentionChannels
        globalContext = try c.decodeIfPresent(Bool.self, forKey: .globalContext) ?? d.globalContext
        padding = try c.decodeIfPresent(PaddingMode.self, forKey: .padding) ?? (variant == .wespeaker ? .zeros : .reflect)
        batchNormEpsilon = try c.decodeIfPresent(Float.self, forKey: .batchNormEpsilon) ?? d.batchNormEpsilon
    }

    /// SpeechBrain-style ECAPA with C channels and an MFA of 3·C.
    public static func speechbrain(channels c: Int, inputSize: Int = 80, embeddingSize: Int = 192,
                                   seChannels: Int = 128, attentionChannels: Int = 128) -> ECAPAConfig {
        ECAPAConfig(inputSize: inputSize, channels: [c, c, c, c, 3 * c], seChannels: seChannels,
                    attentionChannels: attentionChannels, embeddingSize: embeddingSize)
    }

    /// WeSpeaker-style ECAPA (`ECAPA_TDNN_GLOB_c512` has C = 512, MFA 1536, embedding 192).
    public static func wespeaker(channels c: Int, mfaChannels: Int = 1536, inputSize: Int = 80,
                                 embeddingSize: Int = 192, attentionChannels: Int = 128) -> ECAPAConfig {
        ECAPAConfig(variant: .wespeaker, inputSize: inputSize, channels: [c, c, c, c, mfaChannels],
                    seChannels: 128, attentionChannels: attentionChannels, embeddingSize: embeddingSize,
                    padding: .zeros)
    }

    /// Width of the convolution in the SE-Res2Net blocks (`channels[1]`).
    public var blockChannels: Int { channels[1] }
    public var mfaChannels: Int { channels[4] }

    /// Checks that the hyperparameters describe a network this engine runs.
    public func validate() throws(ECAPAError) {
        func fail(_ why: String) -> ECAPAError { .invalidConfig(why) }
        guard channels.count == 5, kernelSizes.count == 5, dilations.count == 5 else {
            throw fail("channels, kernel_sizes and dilations need 5 entries each (got \(channels.count), \(kernelSizes.count), \(dilations.count))")
        }
        guard channels.allSatisfy({ $0 > 0 && $0 <= 16384 }), inputSize > 0, inputSize <= 1024,
              embeddingSize > 0, embeddingSize <= 16384, seChannels > 0, attentionChannels > 0 else {
            throw fail("sizes must be positive and plausible (channels \(channels), input_size \(inputSize), embedding_size \(embeddingSize))")
        }
        guard channels[1] == channels[2], channels[2] == channels[3], channels[0] == channels[1] else {
            throw fail("the first block and the three SE-Res2Net blocks must have equal widths, got \(channels[0..<4])")
        }
        guard res2netScale >= 2, blockChannels % res2netScale == 0 else {
            throw fail("res2net_scale \(res2netScale) must be ≥ 2 and divide the block width \(blockChannels)")
        }
        guard kernelSizes.allSatisfy({ $0 >= 1 && $0 % 2 == 1 && $0 <= 31 }), kernelSizes[4] == 1,
              dilations.allSatisfy({ $0 >= 1 && $0 <= 64 }) else {
            throw fail("kernel sizes must be odd (the MFA kernel 1), dilations ≥ 1: \(kernelSizes), \(dilations)")
        }
        guard batchNormEpsilon > 0, batchNormEpsilon.isFinite else { throw fail("batch_norm_eps must be > 0") }
    }

    /// Widest "same" padding of any convolution: inputs need more frames than this.
    /// Tensor prefixes of the convolutions a quantised model runs in int8, in forward order.
    public var int8Convolutions: [String] { names.int8Convolutions(res2netScale: res2netScale) }

    public var maxPadding: Int {
        var widest = 0   // a loop, not map/max: this runs on every embed and must not allocate
        for k in 0..<4 { widest = max(widest, dilations[k] * (kernelSizes[k] - 1) / 2) }
        return widest
    }
}
