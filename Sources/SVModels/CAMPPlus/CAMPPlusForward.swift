import SVKernels

/// Scratch memory for one stream of `CAMPPlusEncoder.embed` calls. It grows to the longest input seen
/// and is then reused, so steady-state calls do not allocate. Not thread-safe: one per thread.
public final class CAMPPlusWorkspace: @unchecked Sendable {
    private let regions = WorkspaceRegions()

    /// Called with each stage's output under upstream's module name (head, tdnn, block1, transit1, …,
    /// out_nonlinear, stats): how the parity tests compare every layer with the reference. Nil in normal use.
    var stageObserver: ((String, UnsafeBufferPointer<Float>) -> Void)?
    /// Called with the input of each convolution of `CAMPPlusConfig.int8Convolutions` (its tensor prefix,
    /// the values its int8 form would quantise): what post-training quantisation calibrates on.
    public var inputObserver: ((String, UnsafeBufferPointer<Float>) -> Void)?
    /// The int8 path's interleaved activations and panel pointers.
    let int8 = Int8Scratch()
    /// The fp32 indirect kernel's row pointers (one per K index of the widest layer).
    private(set) var rowPointers = UnsafeMutablePointer<UnsafePointer<Float>?>.allocate(capacity: 0)
    private var rowPointerCapacity = 0

    deinit { rowPointers.deallocate() }

    public init() {}

    @inline(__always) func observe(_ stage: String, _ x: UnsafePointer<Float>, count: Int) {
        stageObserver?(stage, UnsafeBufferPointer(start: x, count: count))
    }

    @inline(__always) func observeInput(_ layer: String, _ x: UnsafePointer<Float>, count: Int) {
        inputObserver?(layer, UnsafeBufferPointer(start: x, count: count))
    }

    /// The same for an input whose rows are `stride` apart (only the `frames` values of each row are seen).
    @inline(__always) func observeInput(_ layer: String, _ x: UnsafePointer<Float>, rows: Int, stride: Int, frames: Int) {
        guard let inputObserver else { return }
        for r in 0..<rows { inputObserver(layer, UnsafeBufferPointer(start: x + r * stride, count: frames)) }
    }

    /// Bytes currently held (for memory reports).
    public var byteCount: Int { regions.byteCount + int8.byteCount }

    /// Floats of slack before and after every region: the indirect kernel reads whole vectors of 16 past a
    /// row's end and a tap's offset before its start (values that only feed outputs it does not store).
    static let guardFloats = 64

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
        /// The indirect path's features with a zero column either side of each row, and a run of zeros
        /// that taps reading outside the frequency range point to.
        case input, zeros
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
        // The indirect path keeps a zero column either side of each front-module row, splits the TDNN
        // layer's input into two phases, and pads the bottleneck output by the widest local padding.
        let s = t + 2, half = m * (cfg.inputSize / 2) * s
        columns = max(columns, 2 * cfg.headOutputChannels * (t2 + 20))
        let sizes: [Region: Int] = [
            .plane0: m * cfg.inputSize * s, .plane1: half, .plane2: half, .plane3: half,
            .columns: columns, .block: max(widest, cfg.headOutputChannels / 2) * t2, .activated: widest * t2,
            .bottleneck: bn * (t2 + 2 * encoder.localPadding), .context: (bn + 1) * segments, .contextHidden: bn / 2 * segments,
            .gates: cfg.growthRate * segments, .vectors: 2 * cfg.finalChannels + cfg.embeddingSize,
            .input: cfg.inputSize * s, .zeros: s + 32,
        ]
        regions.layOut(for: encoder, frames: t, sizes: Region.allCases.map { sizes[$0]! + 2 * Self.guardFloats })
        if encoder.isQuantized { reserveInt8(for: encoder, frames: t) }
        if encoder.usesIndirectKernel {
            let widestK = max(9 * m, 5 * cfg.headOutputChannels, widest, (cfg.blockKernels.max() ?? 1) * bn)
            if widestK > rowPointerCapacity {
                rowPointers.deallocate()
                rowPointers = .allocate(capacity: widestK)
                rowPointers.initialize(repeating: nil, count: widestK)
                rowPointerCapacity = widestK
            }
        }
    }

    /// The int8 path's largest interleaved input, panel list and zero run (see each layer's int8 forward).
    private func reserveInt8(for encoder: CAMPPlusEncoder, frames t: Int) {
        let cfg = encoder.config, t2 = CAMPPlusEncoder.tdnnFrames(t)
        let tp = Int8Activations.paddedFrames(t), tp2 = Int8Activations.paddedFrames(t2)
        let widest = cfg.blockChannels.map(\.output).max() ?? cfg.initChannels
        let localPad = zip(cfg.blockKernels, cfg.blockDilations).map { ($0 - 1) / 2 * $1 }.max() ?? 0
        func groups(_ channels: Int) -> Int { (channels + 3) / 4 }
        let bytes = [
            cfg.inputSize * Int8Activations.byteCount(channels: cfg.headChannels, width: tp + 2),
            2 * Int8Activations.byteCount(channels: cfg.headOutputChannels, width: tp2 + 3),
            Int8Activations.byteCount(channels: widest, width: tp2),
            Int8Activations.byteCount(channels: cfg.bottleneckChannels, width: tp2 + 2 * localPad),
        ].max()!
        let panels = [9 * groups(cfg.headChannels), 5 * groups(cfg.headOutputChannels), groups(widest),
                      (cfg.blockKernels.max() ?? 1) * groups(cfg.bottleneckChannels)].max()!
        int8.reserve(byteCount: bytes, panelCount: panels, zeroBytes: (tp + 2) * 4)
    }

    @inline(__always) func region(_ r: Region) -> UnsafeMutablePointer<Float> { regions.pointer(r.rawValue) + Self.guardFloats }
}

extension CAMPPlusEncoder {
    /// The front module: (inputSize, frames) features → (headChannels · inputSize/8, frames) in `out`
    /// (the (channels, rows, frames) planes read row-major are upstream's reshape to channels·rows).
    /// With the indirect kernel the planes' rows are `frames + 2` apart with a zero column either side
    /// (what a 3×3 tap reads past the ends), so no tap needs an edge case; the output is compact either way.
    func head(_ x: UnsafePointer<Float>, frames t: Int, ws: CAMPPlusWorkspace, threads: Int) -> UnsafeMutablePointer<Float> {
        let layout: PlaneLayout = usesIndirectKernel ? .padded(t) : .compact(t)
        var rows = config.inputSize, features = x
        if usesIndirectKernel {
            let input = ws.region(.input)
            for f in 0..<rows {
                let row = input + f * layout.stride
                row[0] = 0
                (row + 1).update(from: x + f * t, count: t)
                row[t + 1] = 0
            }
            features = UnsafePointer(input)
        }
        func run(_ layer: Conv2dLayer, _ x: UnsafePointer<Float>, _ rows: Int, _ relu: Bool, _ y: UnsafeMutablePointer<Float>,
                 _ output: PlaneLayout) {
            layer.forward(x, rows: rows, frames: t, relu: relu, into: y, input: layout, output: output, ws: ws, threads: threads)
        }
        run(headInput, features, rows, true, ws.region(.plane0), layout)
        // Planes by index (0: the first convolution's, 1–3: the half-frequency ones), rotated without
        // allocating: a block reads plane `current` and writes the two other half-frequency planes.
        func plane(_ i: Int) -> UnsafeMutablePointer<Float> { ws.region(CAMPPlusWorkspace.Region(rawValue: i)!) }
        var current = 0
        for block in headBlocks {
            let hIndex = current == 1 ? 2 : 1, yIndex = current == 0 ? 2 : 6 - current - hIndex
            let input = plane(current), h = plane(hIndex), y = plane(yIndex)
            let outRows = block.conv1.outputRows(rows)
            run(block.conv1, input, rows, true, h, layout)
            run(block.conv2, h, outRows, false, y, layout)
            // (padded planes: the zero columns stay zero, 0 + 0 then ReLU)
            let count = block.conv2.outChannels * outRows * layout.stride
            if let shortcut = block.shortcut {
                run(shortcut, input, rows, false, h, layout)
                for i in 0..<count { y[i] = max(y[i] + h[i], 0) }
            } else {
                for i in 0..<count { y[i] = max(y[i] + input[i], 0) }
            }
            current = yIndex
            rows = outRows
        }
        let out = plane(current == 1 ? 2 : 1)
        run(headOutput, plane(current), rows, true, out, .compact(t))
        return out
    }

    func forward(_ x: UnsafePointer<Float>, frames t: Int, ws: CAMPPlusWorkspace, output: UnsafeMutablePointer<Float>) {
        let threads = BLAS.threads
        let headOut = head(x, frames: t, ws: ws, threads: threads)
        ws.observe("head", headOut, count: config.headOutputChannels * t)
        let n = CAMPPlusEncoder.tdnnFrames(t)
        let columns = ws.region(.columns), block = ws.region(.block), activated = ws.region(.activated)
        ws.observeInput(tdnn.name, headOut, count: config.headOutputChannels * t)
        if let q = tdnn.int8 {
            tdnn.forwardInt8(q, headOut, frames: t, into: block, scratch: ws.int8)
        } else if let fast = tdnn.fast {
            tdnn.forwardIndirect(fast, headOut, frames: t, into: block, ws: ws, threads: threads)
        } else {
            tdnn.forward(headOut, frames: t, into: block, scratch: columns)
        }
        ws.observe("tdnn", block, count: config.initChannels * n)
        for (b, layers) in blocks.enumerated() {
            for layer in layers { camLayer(layer, block: block, frames: n, ws: ws, threads: threads) }
            ws.observe("block\(b + 1)", block, count: transits[b].conv.inChannels * n)
            // Transit: BN-ReLU of the whole block, then 1×1 to half the channels, back into `block`.
            let transit = transits[b]
            if let q = transit.conv.indirect {
                pointwiseInt8(q, block, frames: n, norm: transit.norm, relu: false, into: block, ws: ws)
            } else {
                affineRelu(block, channels: transit.conv.inChannels, frames: n, transit.norm, into: activated)
                ws.observeInput(transit.conv.name, activated, count: transit.conv.inChannels * n)
                if let fast = transit.conv.fast {
                    pointwiseIndirect(fast, activated, frames: n, bias: nil, relu: false, into: block, ldy: n, ws: ws, threads: threads)
                } else {
                    gemm(.none, .none, m: transit.conv.outChannels, n: n, k: transit.conv.inChannels, a: transit.conv.weight.pointer,
                         lda: transit.conv.inChannels, b: activated, ldb: n, c: block, ldc: n)
                }
            }
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
    func camLayer(_ layer: CAMDenseLayer, block: UnsafeMutablePointer<Float>, frames n: Int, ws: CAMPPlusWorkspace, threads: Int) {
        let cin = layer.bottleneck.inChannels, bn = layer.bottleneck.outChannels, g = layer.local.outChannels
        let activated = ws.region(.activated)
        // The indirect kernel's local convolution reads the bottleneck output with zero margins either side.
        let margin = layer.local.fast != nil ? localPadding : 0, stride = n + 2 * margin
        let h = ws.region(.bottleneck) + margin
        if let q = layer.bottleneck.indirect {
            pointwiseInt8(q, block, frames: n, norm: layer.inputNorm, relu: true, into: h, ws: ws)
        } else {
            affineRelu(block, channels: cin, frames: n, layer.inputNorm, into: activated)
            ws.observeInput(layer.bottleneck.name, activated, count: cin * n)
            if let fast = layer.bottleneck.fast {
                pointwiseIndirect(fast, activated, frames: n, bias: layer.bottleneck.bias.pointer, relu: true, into: h, ldy: stride,
                                  ws: ws, threads: threads)
                zeroMargins(h - margin, rows: bn, stride: stride, margin: margin, frames: n)
            } else {
                layer.bottleneck.forward(activated, frames: n, padding: .zeros, into: h, scratch: ws.region(.columns))
                reluInPlace(h, count: bn * n)
            }
        }
        let y = block + cin * n
        if let fast = layer.local.fast {
            ws.observeInput(layer.local.name, h, rows: bn, stride: stride, frames: n)
            let rows = ws.rowPointers, k = layer.local.kernel, d = layer.local.dilation, pad = (k - 1) / 2 * d
            for c in 0..<bn { for j in 0..<k { rows[c * k + j] = UnsafePointer(h + c * stride + j * d - pad) } }
            fast.gemm(rows: rows, frames: n, bias: nil, relu: false, into: y, ldy: n, threads: threads)
        } else if let q = layer.local.indirect {
            dilatedInt8(q, h, frames: n, kernel: layer.local.kernel, dilation: layer.local.dilation, into: y, ws: ws)
        } else {
            ws.observeInput(layer.local.name, h, count: bn * n)
            conv1dSame(x: h, inChannels: bn, frames: n, weight: layer.local.weight.pointer, bias: nil, outChannels: g,
                       kernel: layer.local.kernel, dilation: layer.local.dilation, padding: .zeros, y: y,
                       scratch: ws.region(.columns))
        }

        // The context is constant over a segment: mean over all frames + mean over the segment
        // (upstream's avg_pool1d with ceil_mode divides the last, shorter segment by its own length).
        // The utterance mean is the segments' sums added up: one pass over the bottleneck output.
        let seg = config.segmentLength, segments = (n + seg - 1) / seg
        let context = ws.region(.context), sums = context + bn * segments
        for c in 0..<bn {
            let row = h + c * stride
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

// MARK: - int8 layers (indirect kernel: the input quantised once, each tap a pointer into it)

extension CAMPPlusEncoder {
    /// A 1×1 convolution of max(norm(x), 0) (x: `q.inChannels` rows of `frames`), the BatchNorm-ReLU
    /// fused into the quantisation pass; ReLU after when `relu`. `y` may alias `x` (the input is
    /// quantised before the kernel writes).
    func pointwiseInt8(_ q: Int8IndirectConv, _ x: UnsafePointer<Float>, frames n: Int, norm: ChannelAffine, relu: Bool,
                       into y: UnsafeMutablePointer<Float>, ws: CAMPPlusWorkspace) {
        let width = Int8Activations.paddedFrames(n), runs = ws.int8.bytes
        q.interleave(x, channelStride: n, frames: n, scale: norm.scale.pointer, shift: norm.shift.pointer, relu: true,
                     margin: 0, width: width, into: runs)
        for g in 0..<q.channelGroups { ws.int8.panels[g] = Int8Activations.panel(runs, group: g, width: width, column: 0) }
        q.gemm(panels: ws.int8.panels, frames: n, relu: relu, into: y, ldy: n)
    }

    /// A "same" dilated convolution with zero padding (the CAM layer's local convolution).
    func dilatedInt8(_ q: Int8IndirectConv, _ x: UnsafePointer<Float>, frames n: Int, kernel: Int, dilation: Int,
                     into y: UnsafeMutablePointer<Float>, ws: CAMPPlusWorkspace) {
        let pad = (kernel - 1) / 2 * dilation, width = Int8Activations.paddedFrames(n) + 2 * pad, runs = ws.int8.bytes
        q.interleave(x, channelStride: n, frames: n, margin: pad, width: width, into: runs)
        // Output frame t, tap j reads input t + j·dilation − pad, stored at column t + j·dilation.
        for j in 0..<kernel {
            for g in 0..<q.channelGroups {
                ws.int8.panels[j * q.channelGroups + g] = Int8Activations.panel(runs, group: g, width: width, column: j * dilation)
            }
        }
        q.gemm(panels: ws.int8.panels, frames: n, relu: false, into: y, ldy: n)
    }
}

/// Where the rows of a (channels, rows, frames) plane lie: row r's data starts at r·stride + offset.
struct PlaneLayout {
    let stride: Int, offset: Int
    /// Rows `frames` apart.
    static func compact(_ frames: Int) -> PlaneLayout { PlaneLayout(stride: frames, offset: 0) }
    /// Rows `frames + 2` apart, a zero column either side (the indirect kernel's front module).
    static func padded(_ frames: Int) -> PlaneLayout { PlaneLayout(stride: frames + 2, offset: 1) }
}

extension Conv2dLayer {
    /// Runs the layer in int8 when it has an int8 form, else on the indirect fp32 kernel when it has its
    /// weights (padded input), else im2col + OpenBLAS (compact planes), reporting its input.
    func forward(_ x: UnsafePointer<Float>, rows: Int, frames t: Int, relu: Bool, into y: UnsafeMutablePointer<Float>,
                 input: PlaneLayout, output: PlaneLayout, ws: CAMPPlusWorkspace, threads: Int) {
        if int8 == nil { ws.observeInput(name, x + input.offset, rows: inChannels * rows, stride: input.stride, frames: t) }
        if let q = int8 {
            forwardInt8(q, x, rows: rows, frames: t, relu: relu, into: y, input: input, output: output, ws: ws)
        } else if let fast {
            precondition(input.offset == 1, "Conv2dLayer \(name): the indirect kernel reads padded planes")
            forwardIndirect(fast, x, rows: rows, frames: t, relu: relu, into: y, output: output, ws: ws, threads: threads)
        } else {
            precondition(input.stride == t && output.stride == t, "Conv2dLayer \(name): im2col reads and writes compact planes")
            forward(x, rows: rows, frames: t, relu: relu, into: y, scratch: ws.region(.columns))
        }
        if output.offset > 0 { zeroMargins(y, rows: outChannels * outputRows(rows), stride: output.stride, margin: output.offset, frames: t) }
    }

    func forwardInt8(_ q: Int8IndirectConv, _ x: UnsafePointer<Float>, rows: Int, frames t: Int, relu: Bool,
                     into y: UnsafeMutablePointer<Float>, input: PlaneLayout, output: PlaneLayout, ws: CAMPPlusWorkspace) {
        // Every input row quantised once (margin `pad` columns of zero point on each side); output row
        // fo, tap (kf, kt) reads input row fo·strideF + kf − pad (a zero run outside) at column kt.
        let pad = kernel / 2, outRows = outputRows(rows), width = Int8Activations.paddedFrames(t) + 2 * pad
        let rowBytes = Int8Activations.byteCount(channels: inChannels, width: width), runs = ws.int8.bytes
        for f in 0..<rows {
            q.interleave(x + f * input.stride + input.offset, channelStride: rows * input.stride, frames: t, margin: pad, width: width,
                         into: runs + f * rowBytes)
        }
        let panels = ws.int8.panels, zero = ws.int8.zeroRun(zeroPoint: q.inputZeroPoint), cg = q.channelGroups
        for fo in 0..<outRows {
            for kf in 0..<kernel {
                let fi = fo * strideF + kf - pad
                for kt in 0..<kernel {
                    for g in 0..<cg {
                        panels[(kf * kernel + kt) * cg + g] = fi >= 0 && fi < rows
                            ? Int8Activations.panel(runs + fi * rowBytes, group: g, width: width, column: kt) : zero
                    }
                }
            }
            q.gemm(panels: panels, frames: t, relu: relu, into: y + fo * output.stride + output.offset, ldy: outRows * output.stride)
        }
    }
}

extension StridedConv1d {
    /// The strided convolution in int8: each phase of the input (`phaseTap`) quantised into its own runs.
    func forwardInt8(_ q: Int8IndirectConv, _ x: UnsafePointer<Float>, frames t: Int, into y: UnsafeMutablePointer<Float>,
                     scratch: Int8Scratch) {
        let n = outputFrames(t), margin = phaseMargin
        let width = Int8Activations.paddedFrames(n) + margin + phaseReach
        let phaseBytes = Int8Activations.byteCount(channels: inChannels, width: width), runs = scratch.bytes
        for p in 0..<stride {
            q.interleave(x + p, channelStride: t, frames: phaseFrames(t, phase: p), frameStep: stride, margin: margin,
                         width: width, into: runs + p * phaseBytes)
        }
        let cg = q.channelGroups
        for k in 0..<kernel {
            let (phase, offset) = phaseTap(k)
            for g in 0..<cg {
                scratch.panels[k * cg + g] = Int8Activations.panel(runs + phase * phaseBytes, group: g, width: width,
                                                                   column: offset + margin)
            }
        }
        q.gemm(panels: scratch.panels, frames: n, relu: true, into: y, ldy: n)
    }
}
