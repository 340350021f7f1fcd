/// Where each layer's tensors live in a model file. Model files keep the reference toolkit's own
/// `state_dict` names (SpeechBrain's for `.speechbrain`, WeSpeaker's for `.wespeaker`), so a file can
/// be compared tensor by tensor with the checkpoint it came from.
struct ECAPALayerNames {
    /// Convolution weight and bias prefix, and the batch-norm prefix (nil where the layer has none).
    struct Layer { let conv: String; let norm: String? }

    let variant: ECAPAConfig.Variant

    var first: Layer {
        variant == .speechbrain ? Layer(conv: "blocks.0.conv.conv", norm: "blocks.0.norm.norm")
            : Layer(conv: "layer1.conv", norm: "layer1.bn")
    }
    /// `block` is 1...3 (the SE-Res2Net blocks).
    func tdnn1(_ block: Int) -> Layer {
        variant == .speechbrain ? Layer(conv: "blocks.\(block).tdnn1.conv.conv", norm: "blocks.\(block).tdnn1.norm.norm")
            : Layer(conv: "layer\(block + 1).se_res2block.0.conv", norm: "layer\(block + 1).se_res2block.0.bn")
    }
    func res2(_ block: Int, _ i: Int) -> Layer {
        variant == .speechbrain
            ? Layer(conv: "blocks.\(block).res2net_block.blocks.\(i).conv.conv",
                    norm: "blocks.\(block).res2net_block.blocks.\(i).norm.norm")
            : Layer(conv: "layer\(block + 1).se_res2block.1.convs.\(i)", norm: "layer\(block + 1).se_res2block.1.bns.\(i)")
    }
    func tdnn2(_ block: Int) -> Layer {
        variant == .speechbrain ? Layer(conv: "blocks.\(block).tdnn2.conv.conv", norm: "blocks.\(block).tdnn2.norm.norm")
            : Layer(conv: "layer\(block + 1).se_res2block.2.conv", norm: "layer\(block + 1).se_res2block.2.bn")
    }
    func seReduce(_ block: Int) -> String {
        variant == .speechbrain ? "blocks.\(block).se_block.conv1.conv" : "layer\(block + 1).se_res2block.3.linear1"
    }
    func seExpand(_ block: Int) -> String {
        variant == .speechbrain ? "blocks.\(block).se_block.conv2.conv" : "layer\(block + 1).se_res2block.3.linear2"
    }
    var mfa: Layer { variant == .speechbrain ? Layer(conv: "mfa.conv.conv", norm: "mfa.norm.norm") : Layer(conv: "conv", norm: nil) }
    var attention: Layer {
        variant == .speechbrain ? Layer(conv: "asp.tdnn.conv.conv", norm: "asp.tdnn.norm.norm") : Layer(conv: "pool.linear1", norm: nil)
    }
    var attentionOut: String { variant == .speechbrain ? "asp.conv.conv" : "pool.linear2" }
    /// The convolutions that run in int8 in a quantised model, in forward order: every TDNN layer
    /// (first, per block tdnn1, Res2Net, tdnn2, MFA). SE, attention and the embedding stay fp32.
    func int8Convolutions(res2netScale: Int) -> [String] {
        var names = [first.conv]
        for b in 1...3 {
            names.append(tdnn1(b).conv)
            for i in 0..<(res2netScale - 1) { names.append(res2(b, i).conv) }
            names.append(tdnn2(b).conv)
        }
        return names + [mfa.conv]
    }
    var poolNorm: String { variant == .speechbrain ? "asp_bn.norm" : "bn" }
    var embedding: String { variant == .speechbrain ? "fc.conv" : "linear" }
    /// WeSpeaker's SE block and final layer are `nn.Linear` (weights without the kernel axis).
    var linearLayers: Bool { variant == .wespeaker }
}

extension ECAPAConfig {
    var names: ECAPALayerNames { ECAPALayerNames(variant: variant) }

    /// Tensor-name prefix of the embedding layer (`<prefix>.weight`, `<prefix>.bias`): the post-pooling
    /// layer that MagNetO's full-length refinement retrains.
    public var embeddingLayerName: String { names.embedding }

    /// Every tensor a model file of this configuration must hold, with its shape, derived from the
    /// hyperparameters alone.
    public var tensorTable: [String: [Int]] {
        var table: [String: [Int]] = [:]
        let n = names
        func conv(_ prefix: String, out: Int, in inp: Int, kernel: Int, linear: Bool = false) {
            table["\(prefix).weight"] = linear ? [out, inp] : [out, inp, kernel]
            table["\(prefix).bias"] = [out]
        }
        func batchNorm(_ prefix: String, _ count: Int) {
            for p in ["weight", "bias", "running_mean", "running_var"] { table["\(prefix).\(p)"] = [count] }
        }
        func layer(_ l: ECAPALayerNames.Layer, out: Int, in inp: Int, kernel: Int) {
            conv(l.conv, out: out, in: inp, kernel: kernel)
            if let norm = l.norm { batchNorm(norm, out) }
        }
        let c = blockChannels, width = c / res2netScale, mfa = mfaChannels
        layer(n.first, out: c, in: inputSize, kernel: kernelSizes[0])
        for b in 1...3 {
            layer(n.tdnn1(b), out: c, in: c, kernel: 1)
            for i in 0..<(res2netScale - 1) { layer(n.res2(b, i), out: width, in: width, kernel: kernelSizes[b]) }
            layer(n.tdnn2(b), out: c, in: c, kernel: 1)
            conv(n.seReduce(b), out: seChannels, in: c, kernel: 1, linear: n.linearLayers)
            conv(n.seExpand(b), out: c, in: seChannels, kernel: 1, linear: n.linearLayers)
        }
        layer(n.mfa, out: mfa, in: 3 * c, kernel: 1)
        layer(n.attention, out: attentionChannels, in: globalContext ? 3 * mfa : mfa, kernel: 1)
        conv(n.attentionOut, out: mfa, in: attentionChannels, kernel: 1)
        batchNorm(n.poolNorm, 2 * mfa)
        conv(n.embedding, out: embeddingSize, in: 2 * mfa, kernel: 1, linear: n.linearLayers)
        return table
    }

    /// Number of trainable parameters (BN running statistics excluded), as PyTorch counts them.
    public var parameterCount: Int {
        tensorTable.filter { !$0.key.hasSuffix("running_mean") && !$0.key.hasSuffix("running_var") }
            .values.reduce(0) { $0 + $1.reduce(1, *) }
    }
}

extension ECAPAConfig {
    /// Multiply-accumulates of one forward pass over `frames` frames (convolutions and linear layers;
    /// the global-context columns of the attention count once per utterance, as spkv computes them).
    public func multiplyAccumulates(frames t: Int) -> Int {
        let c = blockChannels, w = c / res2netScale, cm = mfaChannels, a = attentionChannels
        var macs = c * inputSize * kernelSizes[0] * t
        for b in 1...3 {
            macs += 2 * c * c * t + (res2netScale - 1) * w * w * kernelSizes[b] * t + 2 * c * seChannels
        }
        macs += cm * 3 * c * t
        macs += a * cm * t + (globalContext ? a * 2 * cm : 0) + cm * a * t
        macs += embeddingSize * 2 * cm
        return macs
    }
}
