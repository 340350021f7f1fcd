import SVKernels

/// An ECAPA-TDNN speaker encoder with immutable, shareable weights (fp32).
///
/// Batch norms that follow a ReLU are applied in the same pass as the ReLU; the batch norm over the
/// pooled statistics is folded exactly into the final 1×1 convolution. Per-call scratch memory
/// lives in an `ECAPAWorkspace`, one per thread.
public final class ECAPAEncoder: Sendable {
    public let config: ECAPAConfig
    let first: TDNNLayer
    let blocks: [SERes2NetBlock]
    let mfa: TDNNLayer
    let attention: EncoderConv           // on [x; μ; σ] (global context) or x
    let attentionNorm: ChannelAffine?  // SpeechBrain: ReLU + BN before the tanh
    let attentionOut: EncoderConv
    let embedding: EncoderConv           // the pooled-statistics BN folded in
    let poolNorm: ChannelAffine        // kept unfolded too, for `pooledStatistics` (MagNetO's input)

    /// Builds the encoder from named fp32 tensors (the reference toolkit's names, see
    /// `ECAPAConfig.tensorTable`). `tensor(name)` returns the values in PyTorch's row-major layout,
    /// or nil when absent.
    /// `int8`: quantised weights by convolution prefix (`ECAPAConfig.int8Convolutions`); those layers
    /// run the int8 kernels and their fp32 weights are never read.
    public init(config: ECAPAConfig, tensor: (String) -> [Float]?, int8: [String: Int8LayerData] = [:]) throws(ECAPAError) {
        try config.validate()
        self.config = config
        let table = config.tensorTable, names = config.names
        func values(_ name: String) throws(ECAPAError) -> [Float] { try EncoderChecks.weights(name, table: table, from: tensor) }
        func conv(_ p: String, kernel: Int = 1, dilation: Int = 1) throws(ECAPAError) -> EncoderConv {
            let shape = table["\(p).weight"]!
            if let data = int8[p] {
                guard data.weights.count == shape.reduce(1, *), data.weightScale.count == shape[0] else {
                    throw .wrongTensorSize(name: "\(p).weight", expected: shape.reduce(1, *), actual: data.weights.count)
                }
                let q = Int8ConvWeights(outChannels: shape[0], inChannels: shape[1], kernel: kernel, dilation: dilation,
                                        weights: data.weights, weightScale: data.weightScale, inputScale: data.inputScale)
                return EncoderConv(inChannels: shape[1], outChannels: shape[0], kernel: kernel, dilation: dilation,
                                 weight: AlignedBuffer(count: 0), bias: AlignedBuffer(try values("\(p).bias")), name: p, int8: q)
            }
            return EncoderConv(inChannels: shape[1], outChannels: shape[0], kernel: kernel, dilation: dilation,
                             weight: AlignedBuffer(try values("\(p).weight")), bias: AlignedBuffer(try values("\(p).bias")), name: p)
        }
        func norm(_ p: String) throws(ECAPAError) -> ChannelAffine {
            ChannelAffine(weight: try values("\(p).weight"), bias: try values("\(p).bias"),
                          runningMean: try values("\(p).running_mean"), runningVar: try values("\(p).running_var"),
                          epsilon: config.batchNormEpsilon)
        }
        func tdnn(_ l: ECAPALayerNames.Layer, kernel: Int = 1, dilation: Int = 1) throws(ECAPAError) -> TDNNLayer {
            TDNNLayer(conv: try conv(l.conv, kernel: kernel, dilation: dilation),
                      norm: try l.norm.map { (p) throws(ECAPAError) in try norm(p) })
        }

        first = try tdnn(names.first, kernel: config.kernelSizes[0], dilation: config.dilations[0])
        var blocks: [SERes2NetBlock] = []
        for b in 1...3 {
            var res2: [TDNNLayer] = []
            for i in 0..<(config.res2netScale - 1) {
                res2.append(try tdnn(names.res2(b, i), kernel: config.kernelSizes[b], dilation: config.dilations[b]))
            }
            blocks.append(SERes2NetBlock(
                tdnn1: try tdnn(names.tdnn1(b)), res2: res2,
                passThroughChunk: config.variant == .speechbrain ? 0 : config.res2netScale - 1,
                tdnn2: try tdnn(names.tdnn2(b)),
                se: SqueezeExcitation(reduce: try conv(names.seReduce(b)), expand: try conv(names.seExpand(b)))))
        }
        self.blocks = blocks
        mfa = try tdnn(names.mfa)
        attention = try conv(names.attention.conv)
        attentionNorm = try names.attention.norm.map { (p) throws(ECAPAError) in try norm(p) }
        attentionOut = try conv(names.attentionOut)

        // fc(BN(p)) = W·(s⊙p + t) + b = (W·diag s)·p + (W·t + b): exact, so fold it.
        let bn = try norm(names.poolNorm)
        poolNorm = bn
        let fc = try conv(names.embedding)
        let rows = fc.outChannels, cols = fc.inChannels
        let w = AlignedBuffer(count: rows * cols), bias = AlignedBuffer(count: rows)
        for r in 0..<rows {
            var acc = Double(fc.bias.pointer[r])
            for c in 0..<cols {
                let wrc = fc.weight.pointer[r * cols + c]
                w.pointer[r * cols + c] = wrc * bn.scale.pointer[c]
                acc += Double(wrc) * Double(bn.shift.pointer[c])
            }
            bias.pointer[r] = Float(acc)
        }
        embedding = EncoderConv(inChannels: cols, outChannels: rows, kernel: 1, dilation: 1, weight: w, bias: bias)
    }

    /// Whether the TDNN convolutions run in int8.
    public var isQuantized: Bool { first.conv.int8 != nil }

    /// Every convolution `forward` runs, with the scratch it needs (the workspace reserves the largest).
    var convolutions: [EncoderConv] {
        [first.conv] + blocks.flatMap { [$0.tdnn1.conv] + $0.res2.map(\.conv) + [$0.tdnn2.conv] }
            + [mfa.conv, attention, attentionOut]
    }

    /// Width of the pooled statistics: the attention-weighted mean and standard deviation of the MFA output.
    public var pooledSize: Int { 2 * config.mfaChannels }

    /// The pooled statistics of the most recent `embed` on `workspace`, after the pooling batch norm:
    /// exactly the vector the embedding layer reads (MagNetO's input).
    public func pooledStatistics(_ workspace: ECAPAWorkspace) -> [Float] {
        precondition(workspace.capacityFrames > 0, "pooledStatistics: no embed has run on this workspace")
        let pooled = workspace.region(.vectors) + 2 * config.mfaChannels + config.attentionChannels
        return (0..<pooledSize).map { pooled[$0] * poolNorm.scale.pointer[$0] + poolNorm.shift.pointer[$0] }
    }

    /// Fewest feature frames the encoder accepts (reflect padding needs more frames than it pads).
    public var minimumFrames: Int { config.maxPadding + 1 }

    /// Embeds normalised features laid out (inputSize, frames) row-major, writing `embeddingSize`
    /// values to `output`. Not thread-safe per workspace; the encoder itself may be shared.
    public func embed(features: UnsafePointer<Float>, frames: Int, workspace: ECAPAWorkspace,
                      output: UnsafeMutablePointer<Float>) throws(ECAPAError) {
        try EncoderChecks.input(features, inputSize: config.inputSize, frames: frames, minimumFrames: minimumFrames)
        workspace.reserve(for: self, frames: frames)
        forward(features, frames: frames, ws: workspace, output: output)
    }

    /// Convenience: features as a flat (inputSize × frames) array; returns the embedding.
    public func embed(features: [Float], frames: Int, workspace: ECAPAWorkspace) throws(ECAPAError) -> [Float] {
        try EncoderChecks.embedArray(features, frames: frames, inputSize: config.inputSize, embeddingSize: config.embeddingSize) {
            (f, o) throws(ECAPAError) in try embed(features: f, frames: frames, workspace: workspace, output: o)
        }
    }
}
