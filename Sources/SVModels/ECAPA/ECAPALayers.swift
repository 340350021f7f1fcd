import SVKernels

/// A convolution ready for `conv1dSame`: weight (out, in·kernel), bias (out).
struct EncoderConv: Sendable {
    let inChannels: Int, outChannels: Int, kernel: Int, dilation: Int
    /// fp32 weights (empty when the layer runs in int8).
    let weight: AlignedBuffer
    let bias: AlignedBuffer
    /// Tensor prefix in the model file.
    var name = ""
    /// Quantised weights and input scale: the layer then runs the int8 kernel.
    var int8: Int8ConvWeights? = nil
    /// The same for CAM++, whose layers quantise their input themselves (fused with a BatchNorm-ReLU).
    var indirect: Int8IndirectConv? = nil
    /// CAM++'s fp32 weights packed for the indirect AVX-512 kernel (`weight` is then empty).
    var fast: F32IndirectWeights? = nil

    /// Scratch (in floats) this layer needs for `frames` frames: im2col, or the int8 input panels.
    func scratchCount(frames: Int) -> Int {
        if let int8 { return (int8.packedBytes(frames: frames) + 3) / 4 }
        return conv1dScratchCount(inChannels: inChannels, kernel: kernel, frames: frames)
    }

    func forward(_ x: UnsafePointer<Float>, frames: Int, padding: PaddingMode,
                 into y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        if let int8 {
            int8.forward(x, frames: frames, padding: padding, bias: bias.pointer, into: y, packed: UnsafeMutableRawPointer(scratch))
            return
        }
        conv1dSame(x: x, inChannels: inChannels, frames: frames, weight: weight.pointer,
                   bias: bias.pointer, outChannels: outChannels, kernel: kernel, dilation: dilation,
                   padding: padding, y: y, scratch: scratch)
    }
}

/// Inference-mode batch norm as a per-channel affine map `y = scale·x + shift`.
struct ChannelAffine: Sendable {
    let scale: AlignedBuffer
    let shift: AlignedBuffer

    init(weight: [Float], bias: [Float], runningMean: [Float], runningVar: [Float], epsilon: Float) {
        let n = weight.count
        var s = [Float](repeating: 0, count: n), b = [Float](repeating: 0, count: n)
        for i in 0..<n {
            // Computed in Double so the folded constants match PyTorch's (x − μ)/√(σ²+ε)·γ + β closely.
            let inv = 1 / (Double(runningVar[i]) + Double(epsilon)).squareRoot()
            s[i] = Float(Double(weight[i]) * inv)
            b[i] = Float(Double(bias[i]) - Double(runningMean[i]) * Double(weight[i]) * inv)
        }
        scale = AlignedBuffer(s); shift = AlignedBuffer(b)
    }
}

/// SpeechBrain's TDNNBlock: conv → ReLU → BatchNorm, the last two fused into one pass (or conv →
/// ReLU where a layer has no batch norm, like WeSpeaker's MFA).
struct TDNNLayer: Sendable {
    let conv: EncoderConv
    let norm: ChannelAffine?

    func forward(_ x: UnsafePointer<Float>, frames: Int, padding: PaddingMode,
                 into y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        conv.forward(x, frames: frames, padding: padding, into: y, scratch: scratch)
        if let norm {
            reluThenAffine(y, channels: conv.outChannels, frames: frames,
                           scale: norm.scale.pointer, shift: norm.shift.pointer)
        } else {
            reluInPlace(y, count: conv.outChannels * frames)
        }
    }
}

/// Squeeze-excitation: time mean → 1×1 conv → ReLU → 1×1 conv → sigmoid gate per channel.
struct SqueezeExcitation: Sendable {
    let reduce: EncoderConv   // (se, C)
    let expand: EncoderConv   // (C, se)

    /// Gates `x` (C, frames) in place; `vectors` holds C + se + C floats.
    func apply(_ x: UnsafeMutablePointer<Float>, frames: Int, vectors: UnsafeMutablePointer<Float>) {
        let c = expand.outChannels, se = reduce.outChannels
        let mean = vectors, hidden = vectors + c, gate = vectors + c + se
        rowMeans(x, channels: c, frames: frames, out: mean)
        matvec(reduce, mean, hidden)
        reluInPlace(hidden, count: se)
        matvec(expand, hidden, gate)
        for ch in 0..<c {
            let g = sigmoid(gate[ch]), row = x + ch * frames
            for t in 0..<frames { row[t] *= g }
        }
    }
}

/// `y = W·x + b` for a 1×1 convolution applied to one vector.
func matvec(_ layer: EncoderConv, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
    applyPointwise(layer, x, columns: 1, into: y)
}

/// `y (out, columns) = W·x + b` for a 1×1 convolution with bias on `columns` vectors.
func applyPointwise(_ layer: EncoderConv, _ x: UnsafePointer<Float>, columns: Int, into y: UnsafeMutablePointer<Float>) {
    precondition(layer.kernel == 1, "applyPointwise: \(layer.name) has kernel \(layer.kernel)")
    for o in 0..<layer.outChannels { (y + o * columns).initialize(repeating: layer.bias.pointer[o], count: columns) }
    gemm(.none, .none, m: layer.outChannels, n: columns, k: layer.inChannels, a: layer.weight.pointer, lda: layer.inChannels,
         b: x, ldb: columns, beta: 1, c: y, ldc: columns)
}

/// SE-Res2Net block: TDNN(1×1) → Res2Net → TDNN(1×1) → SE, plus the identity shortcut.
struct SERes2NetBlock: Sendable {
    let tdnn1: TDNNLayer
    let res2: [TDNNLayer]     // scale − 1 layers on C/scale channels
    /// The Res2Net chunk passed through unconvolved: 0 in SpeechBrain, the last one in WeSpeaker.
    let passThroughChunk: Int
    let tdnn2: TDNNLayer
    let se: SqueezeExcitation
}
