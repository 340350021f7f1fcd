import SVKernels

// MARK: - Kernels (B3: pointers in/out, explicit dims, backward accumulates)

/// Reflect (PyTorch `reflect`, edge not repeated) or zero source index for padded position `i`;
/// nil for a zero-padded sample.
@inline(__always)
func paddedIndex(_ i: Int, frames: Int, padding: PaddingMode) -> Int? {
    if i >= 0 && i < frames { return i }
    switch padding {
    case .zeros: return nil
    case .reflect:
        var r = i
        if r < 0 { r = -r }
        if r >= frames { r = 2 * (frames - 1) - r }
        return r
    }
}

/// The adjoint of `SVKernels.im2col` (stride-1 "same"): `dx += col2im(dcols)`, where row `c·kernel + j`
/// of `dcols` (inChannels·kernel, frames) is the gradient of channel c shifted by `j·dilation − pad`.
/// A reflected sample receives the gradient of every padded position that mirrors it.
func col2imSame(dcols: UnsafePointer<Float>, channels: Int, frames: Int, kernel: Int, dilation: Int,
                padding: PaddingMode, dx: UnsafeMutablePointer<Float>) {
    let pad = dilation * (kernel - 1) / 2
    for c in 0..<channels {
        let dst = dx + c * frames
        for j in 0..<kernel {
            let src = dcols + (c * kernel + j) * frames, shift = j * dilation - pad
            // t in order: the left edge, the interior (t + shift inside [0, frames), im2col's split), the right edge.
            let lo = min(max(0, -shift), frames), hi = max(lo, min(frames, frames - shift))
            for t in 0..<lo { if let i = paddedIndex(t + shift, frames: frames, padding: padding) { dst[i] += src[t] } }
            for t in lo..<hi { dst[t + shift] += src[t] }
            for t in hi..<frames { if let i = paddedIndex(t + shift, frames: frames, padding: padding) { dst[i] += src[t] } }
        }
    }
}

/// Stride-1 "same" convolution of one sample (`SVKernels.conv1dSame`, im2col + GEMM).
/// - x is (inChannels, frames); weight is (outChannels, inChannels·kernel); bias (outChannels) or nil;
///   y is (outChannels, frames), overwritten; cols holds inChannels·kernel·frames floats.
public func conv1dForward(x: UnsafePointer<Float>, inChannels: Int, frames: Int,
                          weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outChannels: Int,
                          kernel: Int, dilation: Int, padding: PaddingMode,
                          y: UnsafeMutablePointer<Float>, cols: UnsafeMutablePointer<Float>) {
    conv1dSame(x: x, inChannels: inChannels, frames: frames, weight: weight, bias: bias,
               outChannels: outChannels, kernel: kernel, dilation: dilation, padding: padding,
               y: y, scratch: kernel == 1 ? nil : cols)
}

/// Backward of `conv1dForward` for one sample; accumulates into each non-nil gradient.
/// - dy is (outChannels, frames); dx (inChannels, frames); dWeight (outChannels, inChannels·kernel);
///   dBias (outChannels); cols holds 2·inChannels·kernel·frames floats (im2col and its gradient).
public func conv1dBackward(x: UnsafePointer<Float>, inChannels: Int, frames: Int,
                           weight: UnsafePointer<Float>, outChannels: Int, kernel: Int, dilation: Int,
                           padding: PaddingMode, dy: UnsafePointer<Float>,
                           dx: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?,
                           dBias: UnsafeMutablePointer<Float>?, cols: UnsafeMutablePointer<Float>) {
    let rows = inChannels * kernel
    if let dBias {
        for o in 0..<outChannels {
            var s: Float = 0
            for t in 0..<frames { s += dy[o * frames + t] }
            dBias[o] += s
        }
    }
    if kernel == 1 {
        // dW += dY·xᵀ, dx += Wᵀ·dY
        if let dWeight {
            gemm(.none, .transposed, m: outChannels, n: inChannels, k: frames, a: dy, lda: frames,
                 b: x, ldb: frames, beta: 1, c: dWeight, ldc: inChannels)
        }
        if let dx {
            gemm(.transposed, .none, m: inChannels, n: frames, k: outChannels, a: weight, lda: inChannels,
                 b: dy, ldb: frames, beta: 1, c: dx, ldc: frames)
        }
        return
    }
    if let dWeight {
        im2col(x: x, channels: inChannels, frames: frames, kernel: kernel, dilation: dilation,
               pad: dilation * (kernel - 1) / 2, padding: padding, cols: cols)
        gemm(.none, .transposed, m: outChannels, n: rows, k: frames, a: dy, lda: frames,
             b: cols, ldb: frames, beta: 1, c: dWeight, ldc: rows)
    }
    if let dx {
        let dcols = cols + rows * frames
        gemm(.transposed, .none, m: rows, n: frames, k: outChannels, a: weight, lda: rows,
             b: dy, ldb: frames, beta: 0, c: dcols, ldc: frames)
        col2imSame(dcols: dcols, channels: inChannels, frames: frames, kernel: kernel, dilation: dilation,
                   padding: padding, dx: dx)
    }
}

// MARK: - Graph op

extension Graph {
    /// Stride-1 "same" 1-D convolution over time with optional bias.
    /// x is (N, Cin, T), weight (Cout, Cin, K) (PyTorch layout), bias (Cout); y is (N, Cout, T).
    /// The input is padded by dilation·(K−1)/2 on both sides (reflect needs T > pad).
    /// Samples are split over the graph's workers (one OpenBLAS thread each); the weight and bias
    /// gradients are summed per worker, then added in worker order.
    public func conv1d(_ x: Variable, weight: Variable, bias: Variable?, dilation: Int = 1,
                       padding: PaddingMode = .reflect) -> Variable {
        precondition(x.shape.count == 3 && weight.shape.count == 3, "conv1d: x (N, C, T) and weight (Cout, Cin, K) expected, got \(x.shape), \(weight.shape)")
        let n = x.shape[0], cin = x.shape[1], t = x.shape[2]
        let cout = weight.shape[0], k = weight.shape[2]
        precondition(weight.shape[1] == cin, "conv1d: weight \(weight.shape) expects \(weight.shape[1]) input channels, x has \(cin)")
        precondition(bias == nil || bias!.shape == [cout], "conv1d: bias shape \(bias!.shape) != [\(cout)]")
        precondition(k % 2 == 1 && dilation >= 1, "conv1d: odd kernel and dilation ≥ 1 expected (k \(k), d \(dilation))")
        let pad = dilation * (k - 1) / 2
        precondition(padding == .zeros || t > pad, "conv1d: reflect padding of \(pad) needs more than \(pad) frames, got \(t)")
        let xv = x.value.values, wv = weight.value.values, bv = bias?.value.values ?? [], hasBias = bias != nil
        let colsCount = k == 1 ? 1 : cin * k * t, sampleCost = 2 * cout * cin * k * t
        let parts = split.parts(n, cost: sampleCost)
        var cols = scratchFloats(colsCount * parts)
        let y = [Float](unsafeUninitializedCapacity: n * cout * t) { yb, initialized in
            xv.withUnsafeBufferPointer { xp in
                wv.withUnsafeBufferPointer { wp in
                    bv.withUnsafeBufferPointer { bb in
                        cols.withUnsafeMutableBufferPointer { cp in
                            let yo = SharedFloats(base: yb.baseAddress!), co = SharedFloats(base: cp.baseAddress!)
                            let bp = hasBias ? bb.baseAddress : nil
                            WorkSplit.inSplitBLAS(parts) {
                                split.run(n, cost: sampleCost) { samples, part in
                                    for s in samples {
                                        conv1dForward(x: xp.baseAddress! + s * cin * t, inChannels: cin, frames: t,
                                                      weight: wp.baseAddress!, bias: bp, outChannels: cout, kernel: k,
                                                      dilation: dilation, padding: padding,
                                                      y: yo.base + s * cout * t, cols: co.base + part * colsCount)
                                    }
                                }
                            }
                        }
                    }
                }
            }
            initialized = n * cout * t
        }
        let inputs = [x, weight] + (bias.map { [$0] } ?? [])
        return record(Tensor(shape: [n, cout, t], values: y), inputs: inputs) { [split] out in
            let dy = out.grad!
            let wantW = weight.requiresGrad, wantB = bias?.requiresGrad ?? false
            let parts = split.parts(n, cost: 2 * sampleCost)
            let scratchCount = 2 * cin * k * t
            var scratch = scratchFloats(scratchCount * parts)
            // Per worker: the weight and bias gradients of its samples (worker 0 writes straight into
            // the variables' buffers when it is alone).
            let partialW = wantW && parts > 1 ? cout * cin * k : 0, partialB = wantB ? cout : 0
            var partials = [Float](repeating: 0, count: (partialW + partialB) * parts)
            func run(dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>?) {
                xv.withUnsafeBufferPointer { xp in
                    wv.withUnsafeBufferPointer { wp in
                        dy.withUnsafeBufferPointer { dyp in
                            scratch.withUnsafeMutableBufferPointer { sp in
                                partials.withUnsafeMutableBufferPointer { pp in
                                    let so = SharedFloats(base: sp.baseAddress!), po = SharedFloats(base: pp.baseAddress ?? sp.baseAddress!)
                                    let dxo = dx.map { SharedFloats(base: $0) }, dwo = dw.map { SharedFloats(base: $0) }
                                    WorkSplit.inSplitBLAS(parts) {
                                        split.run(n, cost: 2 * sampleCost) { samples, part in
                                            let own = po.base + part * (partialW + partialB)
                                            let dW = dwo.map { parts > 1 ? own : $0.base }
                                            let dB = dx == nil && wantB ? own + partialW : nil
                                            for s in samples {
                                                conv1dBackward(x: xp.baseAddress! + s * cin * t, inChannels: cin, frames: t,
                                                               weight: wp.baseAddress!, outChannels: cout, kernel: k, dilation: dilation,
                                                               padding: padding, dy: dyp.baseAddress! + s * cout * t,
                                                               dx: dxo.map { $0.base + s * cin * t }, dWeight: dW, dBias: dB,
                                                               cols: so.base + part * scratchCount)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            // Weight and bias first (one im2col per sample), then the input (col2im per sample).
            if wantW || wantB {
                if wantW { weight.accumulateGrad(split) { dw in run(dx: nil, dw: dw) } } else { run(dx: nil, dw: nil) }
                partials.withUnsafeBufferPointer { pp in
                    for part in 0..<parts {
                        let own = pp.baseAddress! + part * (partialW + partialB)
                        if partialW > 0 { weight.accumulateGrad(split) { g in for i in 0..<partialW { g[i] += own[i] } } }
                        if wantB { bias!.accumulateGrad(split) { g in for i in 0..<cout { g[i] += own[partialW + i] } } }
                    }
                }
            }
            if x.requiresGrad { x.accumulateGrad(split) { dx in run(dx: dx, dw: nil) } }
        }
    }
}
