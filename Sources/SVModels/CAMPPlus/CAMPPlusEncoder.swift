import SVKernels

/// A CAM++ speaker encoder with immutable, shareable fp32 weights (see `CAMPPlusConfig` for the
/// network). Every BatchNorm that follows a convolution is folded into it exactly (per output channel:
/// W' = s·W, b' = s·b + t); the pre-activation BatchNorms of the dense and transit layers cannot be
/// (a ReLU sits between them and the convolution) and run as an affine map fused with the ReLU.
/// Per-call scratch lives in a `CAMPPlusWorkspace`, one per thread.
///
/// A quantised model (scheme int8-static) runs the convolutions of `CAMPPlusConfig.int8Convolutions`
/// through the indirect int8 kernel: each layer's input is quantised once (the pre-activation
/// BatchNorm-ReLU fused into that pass) and the folded BatchNorm becomes the per-row output scale and
/// bias, so the int8 weights are the file's unfolded ones, exactly.
public final class CAMPPlusEncoder: Sendable {
    public let config: CAMPPlusConfig
    let headInput: Conv2dLayer
    let headBlocks: [ResidualBlock2d]
    let headOutput: Conv2dLayer
    let tdnn: StridedConv1d
    let blocks: [[CAMDenseLayer]]
    let transits: [TransitLayer]
    let outputNorm: ChannelAffine
    let dense: EncoderConv
    /// Whether the convolutions of `CAMPPlusConfig.int8Convolutions` run in int8.
    public let isQuantized: Bool
    /// Whether the fp32 convolutions run the indirect AVX-512 kernel (`F32IndirectWeights`) rather than
    /// im2col + OpenBLAS.
    public let usesIndirectKernel: Bool
    /// The widest "same" padding of a local convolution: the margin of the bottleneck output's rows on
    /// the indirect kernel (stored: computing it allocates, and it is read once per layer).
    let localPadding: Int

    /// Builds the encoder from named tensors (upstream's state_dict names, `CAMPPlusConfig.tensorTable`);
    /// `tensor(name)` returns the values in PyTorch's row-major layout, or nil when absent.
    /// `int8`: quantised weights by convolution prefix (all of `CAMPPlusConfig.int8Convolutions`, or
    /// none); those layers run the int8 kernel and their fp32 weights are never read.
    /// `indirectKernel`: run the fp32 convolutions on the indirect AVX-512 kernel (the default where the CPU
    /// has AVX-512; tests turn it off to check the OpenBLAS path).
    public init(config: CAMPPlusConfig, tensor: (String) -> [Float]?, int8: [String: Int8LayerData] = [:],
                indirectKernel: Bool = F32IndirectWeights.isAvailable) throws(ECAPAError) {
        try config.validate()
        self.config = config
        isQuantized = !int8.isEmpty
        usesIndirectKernel = indirectKernel && F32IndirectWeights.isAvailable
        localPadding = zip(config.blockKernels, config.blockDilations).map { ($0 - 1) / 2 * $1 }.max() ?? 0
        let table = config.tensorTable, eps = config.batchNormEpsilon
        func values(_ name: String) throws(ECAPAError) -> [Float] { try EncoderChecks.weights(name, table: table, from: tensor) }
        func norm(_ p: String, affine: Bool = true) throws(ECAPAError) -> ChannelAffine {
            let mean = try values("\(p).running_mean"), variance = try values("\(p).running_var")
            let ones = [Float](repeating: 1, count: mean.count), zeros = [Float](repeating: 0, count: mean.count)
            return ChannelAffine(weight: affine ? try values("\(p).weight") : ones, bias: affine ? try values("\(p).bias") : zeros,
                                 runningMean: mean, runningVar: variance, epsilon: eps)
        }
        /// A bias-free convolution followed by a BatchNorm, folded: (out, in·k) weights and a bias.
        func folded(_ weight: String, _ bn: String, affine: Bool = true) throws(ECAPAError) -> (weight: AlignedBuffer, bias: AlignedBuffer) {
            let w = try values(weight), n = try norm(bn, affine: affine)
            let out = table[weight]![0], cols = w.count / out
            let wf = AlignedBuffer(count: w.count), b = AlignedBuffer(count: out)
            for o in 0..<out {
                for c in 0..<cols { wf.pointer[o * cols + c] = w[o * cols + c] * n.scale.pointer[o] }
                b.pointer[o] = n.shift.pointer[o]
            }
            return (wf, b)
        }
        /// The int8 form of convolution `p` when the file has it: the following BatchNorm `bn` (if any)
        /// becomes the output scale and bias.
        func quantized(_ p: String, bn: String?, affine: Bool = true) throws(ECAPAError) -> Int8IndirectConv? {
            guard let data = int8[p] else { return nil }
            let shape = table["\(p).weight"]!
            let n: ChannelAffine? = if let bn { try norm(bn, affine: affine) } else { nil }
            return Int8IndirectConv(outChannels: shape[0], inChannels: shape[1], taps: shape.dropFirst(2).reduce(1, *),
                                    weights: data.weights, weightScale: data.weightScale, inputScale: data.inputScale,
                                    foldScale: n?.scale.array, bias: n?.shift.array, unsignedInput: data.unsignedInput)
        }
        let none = AlignedBuffer(count: 0), indirect = usesIndirectKernel
        /// The weights packed for the indirect kernel when it runs (the row-major copy is then dropped).
        func packed(_ w: AlignedBuffer, rows: Int) -> (AlignedBuffer, F32IndirectWeights?) {
            guard indirect else { return (w, nil) }
            return (none, F32IndirectWeights(w.pointer, outChannels: rows, k: w.count / max(1, rows)))
        }
        func conv2d(_ p: String, _ bn: String, strideF: Int) throws(ECAPAError) -> Conv2dLayer {
            let shape = table["\(p).weight"]!
            if let q = try quantized(p, bn: bn) {
                return Conv2dLayer(inChannels: shape[1], outChannels: shape[0], kernel: shape[2], strideF: strideF,
                                   weight: none, bias: none, name: p, int8: q)
            }
            let (w, b) = try folded("\(p).weight", bn), (weight, fast) = packed(w, rows: shape[0])
            return Conv2dLayer(inChannels: shape[1], outChannels: shape[0], kernel: shape[2], strideF: strideF,
                               weight: weight, bias: b, name: p, fast: fast)
        }
        /// A 1-D convolution with no bias, in int8 or fp32.
        func plain(_ p: String, inChannels: Int, outChannels: Int, kernel: Int, dilation: Int) throws(ECAPAError) -> EncoderConv {
            if let q = try quantized(p, bn: nil) {
                return EncoderConv(inChannels: inChannels, outChannels: outChannels, kernel: kernel, dilation: dilation,
                                 weight: none, bias: none, name: p, indirect: q)
            }
            let (weight, fast) = packed(AlignedBuffer(try values("\(p).weight")), rows: outChannels)
            return EncoderConv(inChannels: inChannels, outChannels: outChannels, kernel: kernel, dilation: dilation,
                             weight: weight, bias: none, name: p, fast: fast)
        }
        /// A 1-D convolution followed by a BatchNorm (folded), in int8 or fp32.
        func foldedConv(_ p: String, _ bn: String, inChannels: Int, outChannels: Int, kernel: Int) throws(ECAPAError) -> EncoderConv {
            if let q = try quantized(p, bn: bn) {
                return EncoderConv(inChannels: inChannels, outChannels: outChannels, kernel: kernel, dilation: 1,
                                 weight: none, bias: none, name: p, indirect: q)
            }
            let (w, b) = try folded("\(p).weight", bn), (weight, fast) = packed(w, rows: outChannels)
            return EncoderConv(inChannels: inChannels, outChannels: outChannels, kernel: kernel, dilation: 1, weight: weight, bias: b,
                             name: p, fast: fast)
        }

        headInput = try conv2d("head.conv1", "head.bn1", strideF: 1)
        var headBlocks: [ResidualBlock2d] = []
        for layer in 1...2 {
            for block in 0...1 {
                let p = "head.layer\(layer).\(block)", stride = block == 0 ? 2 : 1
                headBlocks.append(ResidualBlock2d(
                    conv1: try conv2d("\(p).conv1", "\(p).bn1", strideF: stride),
                    conv2: try conv2d("\(p).conv2", "\(p).bn2", strideF: 1),
                    shortcut: block == 0 ? try conv2d("\(p).shortcut.0", "\(p).shortcut.1", strideF: stride) : nil))
            }
        }
        self.headBlocks = headBlocks
        headOutput = try conv2d("head.conv2", "head.bn2", strideF: 2)

        let tdnnLayer = try foldedConv("xvector.tdnn.linear", "xvector.tdnn.nonlinear.batchnorm",
                                       inChannels: config.headOutputChannels, outChannels: config.initChannels, kernel: 5)
        tdnn = StridedConv1d(inChannels: config.headOutputChannels, outChannels: config.initChannels, kernel: 5, stride: 2,
                             weight: tdnnLayer.weight, bias: tdnnLayer.bias, name: tdnnLayer.name, int8: tdnnLayer.indirect,
                             fast: tdnnLayer.fast)

        let bn = config.bottleneckChannels, g = config.growthRate
        var blocks: [[CAMDenseLayer]] = [], transits: [TransitLayer] = []
        for (b, channels) in config.blockChannels.enumerated() {
            var layers: [CAMDenseLayer] = []
            for i in 0..<config.blockLayers[b] {
                let p = "xvector.block\(b + 1).tdnnd\(i + 1)", cin = channels.input + i * g
                layers.append(CAMDenseLayer(
                    inputNorm: try norm("\(p).nonlinear1.batchnorm"),
                    bottleneck: try foldedConv("\(p).linear1", "\(p).nonlinear2.batchnorm", inChannels: cin, outChannels: bn, kernel: 1),
                    local: try plain("\(p).cam_layer.linear_local", inChannels: bn, outChannels: g, kernel: config.blockKernels[b],
                                     dilation: config.blockDilations[b]),
                    contextReduce: EncoderConv(inChannels: bn, outChannels: bn / 2, kernel: 1, dilation: 1,
                                             weight: AlignedBuffer(try values("\(p).cam_layer.linear1.weight")),
                                             bias: AlignedBuffer(try values("\(p).cam_layer.linear1.bias"))),
                    contextExpand: EncoderConv(inChannels: bn / 2, outChannels: g, kernel: 1, dilation: 1,
                                             weight: AlignedBuffer(try values("\(p).cam_layer.linear2.weight")),
                                             bias: AlignedBuffer(try values("\(p).cam_layer.linear2.bias")))))
            }
            blocks.append(layers)
            transits.append(TransitLayer(
                norm: try norm("xvector.transit\(b + 1).nonlinear.batchnorm"),
                conv: try plain("xvector.transit\(b + 1).linear", inChannels: channels.output, outChannels: channels.output / 2,
                                kernel: 1, dilation: 1)))
        }
        self.blocks = blocks
        self.transits = transits
        outputNorm = try norm("xvector.out_nonlinear.batchnorm")
        let (dw, db) = try folded("xvector.dense.linear.weight", "xvector.dense.nonlinear.batchnorm", affine: false)
        dense = EncoderConv(inChannels: 2 * config.finalChannels, outChannels: config.embeddingSize, kernel: 1, dilation: 1,
                          weight: dw, bias: db)
    }

    public var inputSize: Int { config.inputSize }
    public var embeddingSize: Int { config.embeddingSize }
    /// Width of the pooled statistics (mean and standard deviation of the last BN-ReLU output).
    public var pooledSize: Int { 2 * config.finalChannels }
    /// The pooled statistics of the most recent `embed` on `workspace`: mean and unbiased standard
    /// deviation over time of the last BN-ReLU output, exactly what the dense layer reads (MagNetO's input).
    public func pooledStatistics(_ workspace: CAMPPlusWorkspace) -> [Float] {
        precondition(workspace.byteCount > 0, "pooledStatistics: no embed has run on this workspace")
        return Array(UnsafeBufferPointer(start: workspace.region(.vectors), count: pooledSize))
    }

    /// Fewest feature frames: the TDNN layer halves them, and the unbiased standard deviation needs two.
    public var minimumFrames: Int { 3 }
    /// Frames after the stride-2 TDNN layer.
    public static func tdnnFrames(_ frames: Int) -> Int { (frames + 1) / 2 }

    /// Embeds normalised features laid out (inputSize, frames) row-major, writing `embeddingSize`
    /// values to `output`. Not thread-safe per workspace; the encoder itself may be shared.
    public func embed(features: UnsafePointer<Float>, frames: Int, workspace: CAMPPlusWorkspace,
                      output: UnsafeMutablePointer<Float>) throws(ECAPAError) {
        try EncoderChecks.input(features, inputSize: config.inputSize, frames: frames, minimumFrames: minimumFrames)
        workspace.reserve(for: self, frames: frames)
        forward(features, frames: frames, ws: workspace, output: output)
    }

    /// Convenience: features as a flat (inputSize × frames) array; returns the embedding.
    public func embed(features: [Float], frames: Int, workspace: CAMPPlusWorkspace) throws(ECAPAError) -> [Float] {
        try EncoderChecks.embedArray(features, frames: frames, inputSize: config.inputSize, embeddingSize: config.embeddingSize) {
            (f, o) throws(ECAPAError) in try embed(features: f, frames: frames, workspace: workspace, output: o)
        }
    }
}

// MARK: - Layers

/// A 2-D convolution over (channels, frequency, time) with a square odd kernel, "same" zero padding,
/// stride `strideF` along frequency only, its BatchNorm folded into weight (out, in·k·k) and bias.
struct Conv2dLayer: Sendable {
    let inChannels: Int, outChannels: Int, kernel: Int, strideF: Int
    /// fp32 weights and bias (empty when the layer runs in int8).
    let weight: AlignedBuffer
    let bias: AlignedBuffer
    /// Upstream's tensor prefix (int8 scales and calibration are keyed by it).
    let name: String
    var int8: Int8IndirectConv? = nil
    /// Weights packed for the fp32 indirect kernel (`weight` is then empty).
    var fast: F32IndirectWeights? = nil

    func outputRows(_ rows: Int) -> Int { (rows + 2 * (kernel / 2) - kernel) / strideF + 1 }
    func scratchCount(frames: Int) -> Int { inChannels * kernel * kernel * frames }

    /// y (out, outputRows(rows), frames) = conv(x (in, rows, frames)) + bias, then ReLU when `relu`.
    /// One GEMM per output row on that row's im2col matrix (in·k·k, frames).
    func forward(_ x: UnsafePointer<Float>, rows: Int, frames t: Int, relu: Bool,
                 into y: UnsafeMutablePointer<Float>, scratch cols: UnsafeMutablePointer<Float>) {
        let pad = kernel / 2, outRows = outputRows(rows)
        for fo in 0..<outRows {
            for ci in 0..<inChannels {
                for kf in 0..<kernel {
                    let fi = fo * strideF + kf - pad
                    for kt in 0..<kernel {
                        let dst = cols + ((ci * kernel + kf) * kernel + kt) * t
                        guard fi >= 0, fi < rows else { dst.initialize(repeating: 0, count: t); continue }
                        let src = x + (ci * rows + fi) * t, shift = kt - pad
                        // dst[j] = src[j + shift] inside the row, 0 outside
                        let lo = max(0, -shift), hi = min(t, t - shift)
                        if lo > 0 { dst.initialize(repeating: 0, count: lo) }
                        if hi > lo { (dst + lo).update(from: src + lo + shift, count: hi - lo) }
                        if hi < t { (dst + max(hi, lo)).initialize(repeating: 0, count: t - max(hi, lo)) }
                    }
                }
            }
            gemm(.none, .none, m: outChannels, n: t, k: inChannels * kernel * kernel, a: weight.pointer,
                 lda: inChannels * kernel * kernel, b: cols, ldb: t, c: y + fo * t, ldc: outRows * t)
        }
        let plane = outRows * t
        for o in 0..<outChannels {
            let b = bias.pointer[o], row = y + o * plane
            if relu { for i in 0..<plane { row[i] = max(row[i] + b, 0) } } else { for i in 0..<plane { row[i] += b } }
        }
    }
}

/// FCM's BasicResBlock: conv-BN-ReLU, conv-BN, plus the shortcut (conv-BN when it changes the shape),
/// then ReLU.
struct ResidualBlock2d: Sendable {
    let conv1: Conv2dLayer
    let conv2: Conv2dLayer
    let shortcut: Conv2dLayer?
}

/// A time convolution with stride and "same"-style zero padding (k − 1)/2: frame j reads input
/// frames stride·j − pad … stride·j + pad; its BatchNorm folded in, ReLU after.
struct StridedConv1d: Sendable {
    let inChannels: Int, outChannels: Int, kernel: Int, stride: Int
    let weight: AlignedBuffer
    let bias: AlignedBuffer
    let name: String
    var int8: Int8IndirectConv? = nil
    var fast: F32IndirectWeights? = nil

    func outputFrames(_ t: Int) -> Int { (t - 1) / stride + 1 }
    func scratchCount(frames t: Int) -> Int { inChannels * kernel * outputFrames(t) }

    /// The indirect kernels' view of the stride (int8 and fp32 alike): the input split into its `stride`
    /// phases (frames ≡ p mod stride), each stored with `margin` zero columns in front and room for
    /// `reach` past its end, so that tap k reads input stride·j + k − pad = stride·(j + offset) + phase
    /// at the constant column offset + margin of one phase.
    var phaseMargin: Int { ((kernel - 1) / 2 + stride - 1) / stride }
    var phaseReach: Int { (kernel - 1 - (kernel - 1) / 2) / stride }
    func phaseTap(_ k: Int) -> (phase: Int, offset: Int) {
        let d = k - (kernel - 1) / 2, offset = d >= 0 ? d / stride : -((-d + stride - 1) / stride)
        return (d - offset * stride, offset)
    }
    /// Input frames in phase p.
    func phaseFrames(_ t: Int, phase p: Int) -> Int { (t - p + stride - 1) / stride }

    func forward(_ x: UnsafePointer<Float>, frames t: Int, into y: UnsafeMutablePointer<Float>,
                 scratch cols: UnsafeMutablePointer<Float>) {
        let n = outputFrames(t), pad = (kernel - 1) / 2
        for ci in 0..<inChannels {
            let src = x + ci * t
            for k in 0..<kernel {
                let dst = cols + (ci * kernel + k) * n
                for j in 0..<n {
                    let i = stride * j + k - pad
                    dst[j] = i >= 0 && i < t ? src[i] : 0
                }
            }
        }
        gemm(.none, .none, m: outChannels, n: n, k: inChannels * kernel, a: weight.pointer, lda: inChannels * kernel,
             b: cols, ldb: n, c: y, ldc: n)
        for o in 0..<outChannels {
            let b = bias.pointer[o], row = y + o * n
            for j in 0..<n { row[j] = max(row[j] + b, 0) }
        }
    }
}

/// One CAM layer of a dense block: BN-ReLU → 1×1 bottleneck (its BN folded) → ReLU → a dilated
/// convolution `local`, gated per channel and segment by sigmoid(expand(ReLU(reduce(context)))) where
/// context = utterance mean + segment mean of the bottleneck output.
struct CAMDenseLayer: Sendable {
    let inputNorm: ChannelAffine
    let bottleneck: EncoderConv
    let local: EncoderConv
    let contextReduce: EncoderConv
    let contextExpand: EncoderConv
}

/// BN-ReLU → 1×1 convolution halving the channels (no bias).
struct TransitLayer: Sendable {
    let norm: ChannelAffine
    let conv: EncoderConv
}
