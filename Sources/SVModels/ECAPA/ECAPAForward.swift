import SVKernels

/// Scratch memory for one stream of `ECAPAEncoder.embed` calls. It grows to the longest input seen
/// and is then reused, so steady-state calls do not allocate. Not thread-safe: one per thread.
public final class ECAPAWorkspace: @unchecked Sendable {
    private let regions = WorkspaceRegions()
    var capacityFrames: Int { regions.capacityFrames }
    /// Called with each int8-capable convolution's input (tensor prefix, values) during `embed`:
    /// how post-training quantisation measures activation ranges. Nil in normal use.
    public var inputObserver: ((String, UnsafeBufferPointer<Float>) -> Void)?

    public init() {}

    @inline(__always) func observe(_ layer: EncoderConv, _ x: UnsafePointer<Float>, frames: Int) {
        inputObserver?(layer.name, UnsafeBufferPointer(start: x, count: layer.inChannels * frames))
    }

    /// Bytes currently held (for memory reports).
    public var byteCount: Int { regions.byteCount }

    // Named regions, in the order `layout` lists them.
    enum Region: Int, CaseIterable {
        case scratch, block0, concat, tdnn1, res2, tdnn2, chunk, mfa, attnHidden, attnLogits, vectors
    }

    func reserve(for encoder: ECAPAEncoder, frames: Int) {
        guard let t = regions.framesToReserve(for: encoder, frames: frames) else { return }
        let cfg = encoder.config, c = cfg.blockChannels
        let width = c / cfg.res2netScale, mfa = cfg.mfaChannels
        var scratch = 0
        for conv in encoder.convolutions { scratch = max(scratch, conv.scratchCount(frames: t)) }
        let sizes: [Region: Int] = [
            .scratch: scratch, .block0: c * t, .concat: 3 * c * t, .tdnn1: c * t, .res2: c * t,
            .tdnn2: c * t, .chunk: width * t, .mfa: mfa * t,
            .attnHidden: cfg.attentionChannels * t, .attnLogits: mfa * t,
            .vectors: 2 * c + cfg.seChannels + 6 * mfa + cfg.attentionChannels + cfg.embeddingSize,
        ]
        regions.layOut(for: encoder, frames: t, sizes: Region.allCases.map { sizes[$0]! })
    }

    @inline(__always) func region(_ r: Region) -> UnsafeMutablePointer<Float> { regions.pointer(r.rawValue) }
}

extension ECAPAEncoder {
    func forward(_ x: UnsafePointer<Float>, frames t: Int, ws: ECAPAWorkspace, output: UnsafeMutablePointer<Float>) {
        let pad = config.padding, c = config.blockChannels
        let scratch = ws.region(.scratch), concat = ws.region(.concat)

        ws.observe(first.conv, x, frames: t)
        first.forward(x, frames: t, padding: pad, into: ws.region(.block0), scratch: scratch)
        var input = UnsafePointer(ws.region(.block0))
        for (b, block) in blocks.enumerated() {
            let out = concat + b * c * t          // block outputs are the MFA input, side by side
            seRes2Net(block, input: input, frames: t, ws: ws, output: out)
            input = UnsafePointer(out)
        }
        ws.observe(mfa.conv, concat, frames: t)
        mfa.forward(concat, frames: t, padding: pad, into: ws.region(.mfa), scratch: scratch)
        attentivePooling(ws.region(.mfa), frames: t, ws: ws, output: output)
    }

    private func seRes2Net(_ block: SERes2NetBlock, input: UnsafePointer<Float>, frames t: Int,
                           ws: ECAPAWorkspace, output: UnsafeMutablePointer<Float>) {
        let pad = config.padding, c = config.blockChannels, scale = config.res2netScale
        let width = c / scale, chunkSize = width * t
        let scratch = ws.region(.scratch), t1 = ws.region(.tdnn1), r2 = ws.region(.res2)
        let chunk = ws.region(.chunk), t2 = ws.region(.tdnn2)

        ws.observe(block.tdnn1.conv, input, frames: t)
        block.tdnn1.forward(input, frames: t, padding: pad, into: t1, scratch: scratch)
        // Res2Net: the pass-through chunk is copied; the others are convolved in order, each after
        // adding the previous convolved output (SpeechBrain: y1 = f(x1), yi = f(xi + y(i−1))).
        let pass = block.passThroughChunk
        (r2 + pass * chunkSize).update(from: t1 + pass * chunkSize, count: chunkSize)
        var previous: UnsafeMutablePointer<Float>? = nil
        for (k, layer) in block.res2.enumerated() {
            let i = k < pass ? k : k + 1
            let xi = t1 + i * chunkSize, yi = r2 + i * chunkSize
            if let prev = previous {
                for j in 0..<chunkSize { chunk[j] = xi[j] + prev[j] }
                ws.observe(layer.conv, chunk, frames: t)
                layer.forward(chunk, frames: t, padding: pad, into: yi, scratch: scratch)
            } else {
                ws.observe(layer.conv, xi, frames: t)
                layer.forward(xi, frames: t, padding: pad, into: yi, scratch: scratch)
            }
            previous = yi
        }
        ws.observe(block.tdnn2.conv, r2, frames: t)
        block.tdnn2.forward(r2, frames: t, padding: pad, into: t2, scratch: scratch)
        block.se.apply(t2, frames: t, vectors: ws.region(.vectors))
        for k in 0..<(c * t) { output[k] = t2[k] + input[k] }
    }

    /// Attentive statistics pooling (with global context), BN and the embedding layer.
    private func attentivePooling(_ x: UnsafeMutablePointer<Float>, frames t: Int, ws: ECAPAWorkspace,
                                  output: UnsafeMutablePointer<Float>) {
        let cm = config.mfaChannels, a = config.attentionChannels
        let hidden = ws.region(.attnHidden), logits = ws.region(.attnLogits)
        let vec = ws.region(.vectors)
        let globalStats = vec, contextBias = vec + 2 * cm, pooled = vec + 2 * cm + a
        let conv = attention, wespeaker = config.variant == .wespeaker

        // The attention conv sees [x; μ; σ]: split its weight so the constant μ/σ columns become a
        // per-channel bias instead of 2/3 of the GEMM.
        contextBias.update(from: conv.bias.pointer, count: a)
        let lda = conv.inChannels
        if config.globalContext {
            // SpeechBrain: biased variance floored at 1e-12; WeSpeaker: unbiased variance + 1e-7.
            rowMeanStd(x, channels: cm, frames: t, unbiased: wespeaker, varianceOffset: wespeaker ? 1e-7 : 0,
                       varianceFloor: wespeaker ? 0 : 1e-12, mean: globalStats, std: globalStats + cm)
            gemm(.none, .none, m: a, n: 1, k: 2 * cm, a: conv.weight.pointer + cm, lda: lda,
                 b: globalStats, ldb: 1, beta: 1, c: contextBias, ldc: 1)
        }
        for r in 0..<a { (hidden + r * t).initialize(repeating: contextBias[r], count: t) }
        gemm(.none, .none, m: a, n: t, k: cm, a: conv.weight.pointer, lda: lda, b: x, ldb: t,
             beta: 1, c: hidden, ldc: t)
        if let norm = attentionNorm {
            reluThenAffine(hidden, channels: a, frames: t, scale: norm.scale.pointer, shift: norm.shift.pointer)
        }
        tanhInPlace(hidden, count: a * t)
        attentionOut.forward(hidden, frames: t, padding: config.padding, into: logits, scratch: ws.region(.scratch))
        softmaxRows(logits, rows: cm, columns: t)
        weightedRowMeanStd(x, weights: logits, channels: cm, frames: t, varianceFloor: wespeaker ? 1e-7 : 1e-12,
                           mean: pooled, std: pooled + cm)
        matvec(embedding, pooled, output)
    }
}
