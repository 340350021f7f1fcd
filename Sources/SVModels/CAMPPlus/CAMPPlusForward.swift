import SVKernels

/// Scratch memory for one stream of `CAMPPlusEncoder.embed` calls. It grows to the longest input seen
/// and is then reused, so steady-state calls do not allocate. Not thread-safe: one per thread.
public final class CAMPPlusWorkspace: @unchecked Sendable {
    private let regions = WorkspaceRegions()

    /// Called with each stage's output under upstream's module name (head, tdnn, block1, transit1, …,
    /// out_nonlinear, stats): how the parity tests compare every layer with the reference. Nil in normal use.
    var stageObserver: ((String, UnsafeBufferPointer<Float>) -> Void)?

    public init() {}

    @inline(__always) func observe(_ stage: String, _ x: UnsafePointer<Float>, count: Int) {
        stageObserver?(stage, UnsafeBufferPointer(start: x, count: count))
    }

    /// Bytes currently held (for memory reports).
    public var byteCount: Int { regions.byteCount }

    enum Region: Int, CaseIterable {
        /// Front module planes: the first convolution's (full frequency), then three at half frequency.
        case plane0, plane1, plane2, plane3
        /// im2col of any convolution.
        case columns
        /// The dense block being built (its input, then each layer's growth appended), and the
        /// BN-ReLU copy a layer or transit reads.
        case block, activated
        /// A CAM layer's bottleneck output, its segment contexts (plus one row of segment sums) and gates.
        case bottleneck, context, contextHidden, gates
        case vectors
    }

    func reserve(for encoder: CAMPPlusEncoder, frames: Int) {
        guard let t = regions.framesToReserve(for: encoder, frames: frames) else { return }
        let cfg = encoder.config, t2 = CAMPPlusEncoder.tdnnFrames(t)
        let m = cfg.headChannels, bn = cfg.bottleneckChannels
        let widest = cfg.blockChannels.map(\.output).max() ?? cfg.initChannels
        let segments = (t2 + cfg.segmentLength - 1) / cfg.segmentLength
        var columns = encoder.tdnn.scratchCount(frames: t)
        for layer in [encoder.headInput, encoder.headOutput] + encoder.headBlocks.flatMap({ [$0.conv1, $0.conv2] }) {
            columns = max(columns, layer.scratchCount(frames: t))
        }
        for block in encoder.blocks { for layer in block { columns = max(columns, layer.local.inChannels * layer.local.kernel * t2) } }
        let half = m * (cfg.inputSize / 2) * t
        let sizes: [Region: Int] = [
            .plane0: m * cfg.inputSize * t, .plane1: half, .plane2: half, .plane3: half,
            .columns: columns, .block: max(widest, cfg.headOutputChannels / 2) * t2, .activated: widest * t2,
            .bottleneck: bn * t2, .context: (bn + 1) * segments, .contextHidden: bn / 2 * segments,
            .gates: cfg.growthRate * segments, .vectors: 2 * cfg.finalChannels + cfg.embeddingSize,
        ]
        regions.layOut(for: encoder, frames: t, sizes: Region.allCases.map { sizes[$0]! })
    }

    @inline(__always) func region(_ r: Region) -> UnsafeMutablePointer<Float> { regions.pointer(r.rawValue) }
}

extension CAMPPlusEncoder {
    /// The front module: (inputSize, frames) features → (headChannels · inputSize/8, frames) in `out`
    /// (the (channels, rows, frames) planes read row-major are upstream's reshape to channels·rows).
    func head(_ x: UnsafePointer<Float>, frames t: Int, ws: CAMPPlusWorkspace) -> UnsafeMutablePointer<Float> {
        let columns = ws.region(.columns)
        var rows = config.inputSize
        headInput.forward(x, rows: rows, frames: t, relu: true, into: ws.region(.plane0), scratch: columns)
        // Planes by index (0: the first convolution's, 1–3: the half-frequency ones), rotated without
        // allocating: a block reads plane `current` and writes the two other half-frequency planes.
        func plane(_ i: Int) -> UnsafeMutablePointer<Float> { ws.region(CAMPPlusWorkspace.Region(rawValue: i)!) }
        var current = 0
        for block in headBlocks {
            let hIndex = current == 1 ? 2 : 1, yIndex = current == 0 ? 2 : 6 - current - hIndex
            let input = plane(current), h = plane(hIndex), y = plane(yIndex)
            let outRows = block.conv1.outputRows(rows)
            block.conv1.forward(input, rows: rows, frames: t, relu: true, into: h, scratch: columns)
            block.conv2.forward(h, rows: outRows, frames: t, relu: false, into: y, scratch: columns)
            let count = block.conv2.outChannels * outRows * t
            if let shortcut = block.shortcut {
                shortcut.forward(input, rows: rows, frames: t, relu: false, into: h, scratch: columns)
                for i in 0..<count { y[i] = max(y[i] + h[i], 0) }
            } else {
                for i in 0..<count { y[i] = max(y[i] + input[i], 0) }
            }
            current = yIndex
            rows = outRows
        }
        let out = plane(current == 1 ? 2 : 1)
        headOutput.forward(plane(current), rows: rows, frames: t, relu: true, into: out, scratch: columns)
        return out
    }

    func forward(_ x: UnsafePointer<Float>, frames t: Int, ws: CAMPPlusWorkspace, output: UnsafeMutablePointer<Float>) {
        let headOut = head(x, frames: t, ws: ws)
        ws.observe("head", headOut, count: config.headOutputChannels * t)
        let n = CAMPPlusEncoder.tdnnFrames(t)
        let columns = ws.region(.columns), block = ws.region(.block), activated = ws.region(.activated)
        tdnn.forward(headOut, frames: t, into: block, scratch: columns)
        ws.observe("tdnn", block, count: config.initChannels * n)
        for (b, layers) in blocks.enumerated() {
            for layer in layers { camLayer(layer, block: block, frames: n, ws: ws) }
            ws.observe("block\(b + 1)", block, count: transits[b].conv.inChannels * n)
            // Transit: BN-ReLU of the whole block, then 1×1 to half the channels, back into `block`.
            let transit = transits[b]
            affineRelu(block, channels: transit.conv.inChannels, frames: n, transit.norm, into: activated)
            gemm(.none, .none, m: transit.conv.outChannels, n: n, k: transit.conv.inChannels, a: transit.conv.weight.pointer,
                 lda: transit.conv.inChannels, b: activated, ldb: n, c: block, ldc: n)
            ws.observe("transit\(b + 1)", block, count: transit.conv.outChannels * n)
        }
        // BN-ReLU, mean and unbiased standard deviation over time, dense layer (its BN folded).
        let channels = config.finalChannels, vectors = ws.region(.vectors)
        affineRelu(block, channels: channels, frames: n, outputNorm, into: activated)
        ws.observe("out_nonlinear", activated, count: channels * n)
        rowMeanStd(activated, channels: channels, frames: n, unbiased: true, varianceFloor: 0,
                   mean: vectors, std: vectors + channels)
        ws.observe("stats", vectors, count: 2 * channels)
        matvec(dense, vectors, output)
    }

    /// Appends one CAM layer's `growthRate` channels to `block`, whose first `inputNorm` channels are
    /// the layer's input.
    func camLayer(_ layer: CAMDenseLayer, block: UnsafeMutablePointer<Float>, frames n: Int, ws: CAMPPlusWorkspace) {
        let cin = layer.bottleneck.inChannels, bn = layer.bottleneck.outChannels, g = layer.local.outChannels
        let activated = ws.region(.activated), h = ws.region(.bottleneck)
        affineRelu(block, channels: cin, frames: n, layer.inputNorm, into: activated)
        layer.bottleneck.forward(activated, frames: n, padding: .zeros, into: h, scratch: ws.region(.columns))
        reluInPlace(h, count: bn * n)
        let y = block + cin * n
        conv1dSame(x: h, inChannels: bn, frames: n, weight: layer.local.weight.pointer, bias: nil, outChannels: g,
                   kernel: layer.local.kernel, dilation: layer.local.dilation, padding: .zeros, y: y,
                   scratch: ws.region(.columns))

        // The context is constant over a segment: mean over all frames + mean over the segment
        // (upstream's avg_pool1d with ceil_mode divides the last, shorter segment by its own length).
        // The utterance mean is the segments' sums added up: one pass over the bottleneck output.
        let seg = config.segmentLength, segments = (n + seg - 1) / seg
        let context = ws.region(.context), sums = context + bn * segments
        for c in 0..<bn {
            let row = h + c * n
            var total = 0.0
            for s in 0..<segments {
                var sum = 0.0
                for j in (s * seg)..<min(n, s * seg + seg) { sum += Double(row[j]) }
                sums[s] = Float(sum)
                total += sum
            }
            let mean = Float(total / Double(n))
            for s in 0..<segments {
                let count = min(seg, n - s * seg)
                context[c * segments + s] = mean + sums[s] / Float(count)
            }
        }
        let hidden = ws.region(.contextHidden), gates = ws.region(.gates)
        applyPointwise(layer.contextReduce, context, columns: segments, into: hidden)
        reluInPlace(hidden, count: layer.contextReduce.outChannels * segments)
        applyPointwise(layer.contextExpand, hidden, columns: segments, into: gates)
        for c in 0..<g {
            let row = y + c * n
            for s in 0..<segments {
                let gate = sigmoid(gates[c * segments + s])
                for j in (s * seg)..<min(n, s * seg + seg) { row[j] *= gate }
            }
        }
    }
}

/// `y = max(scale·x + shift, 0)` per channel (a BatchNorm then ReLU), into another buffer.
func affineRelu(_ x: UnsafePointer<Float>, channels: Int, frames: Int, _ norm: ChannelAffine, into y: UnsafeMutablePointer<Float>) {
    for c in 0..<channels {
        let s = norm.scale.pointer[c], b = norm.shift.pointer[c], src = x + c * frames, dst = y + c * frames
        for j in 0..<frames { dst[j] = max(s * src[j] + b, 0) }
    }
}
