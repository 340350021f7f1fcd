/// The tensor table of an ECAPA-TDNN: names (SpeechBrain's `state_dict` names, the canonical names
/// inside spkv model files) and shapes, derived from the hyperparameters alone.
extension ECAPAConfig {
    /// Every tensor a model file of this configuration must hold, with its shape.
    public var tensorTable: [String: [Int]] {
        var table: [String: [Int]] = [:]
        func conv(_ prefix: String, out: Int, in inp: Int, kernel: Int) {
            table["\(prefix).weight"] = [out, inp, kernel]
            table["\(prefix).bias"] = [out]
        }
        func batchNorm(_ prefix: String, _ n: Int) {
            for p in ["weight", "bias", "running_mean", "running_var"] { table["\(prefix).\(p)"] = [n] }
        }
        func tdnn(_ prefix: String, out: Int, in inp: Int, kernel: Int) {
            conv("\(prefix).conv.conv", out: out, in: inp, kernel: kernel)
            batchNorm("\(prefix).norm.norm", out)
        }
        let c = blockChannels, width = c / res2netScale, mfa = mfaChannels
        tdnn("blocks.0", out: c, in: inputSize, kernel: kernelSizes[0])
        for b in 1...3 {
            tdnn("blocks.\(b).tdnn1", out: c, in: c, kernel: 1)
            for i in 0..<(res2netScale - 1) {
                tdnn("blocks.\(b).res2net_block.blocks.\(i)", out: width, in: width, kernel: kernelSizes[b])
            }
            tdnn("blocks.\(b).tdnn2", out: c, in: c, kernel: 1)
            conv("blocks.\(b).se_block.conv1.conv", out: seChannels, in: c, kernel: 1)
            conv("blocks.\(b).se_block.conv2.conv", out: c, in: seChannels, kernel: 1)
        }
        tdnn("mfa", out: mfa, in: 3 * c, kernel: 1)
        tdnn("asp.tdnn", out: attentionChannels, in: globalContext ? 3 * mfa : mfa, kernel: 1)
        conv("asp.conv.conv", out: mfa, in: attentionChannels, kernel: 1)
        batchNorm("asp_bn.norm", 2 * mfa)
        conv("fc.conv", out: embeddingSize, in: 2 * mfa, kernel: 1)
        return table
    }

    /// Number of trainable parameters (BN running statistics excluded), as PyTorch counts them.
    public var parameterCount: Int {
        tensorTable.filter { !$0.key.hasSuffix("running_mean") && !$0.key.hasSuffix("running_var") }
            .values.reduce(0) { $0 + $1.reduce(1, *) }
    }
}
