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

/// im2col for a stride-1 "same" convolution: row `c·kernel + j` of `cols` (inChannels·kernel, frames)
/// is channel c shifted by `j·dilation − pad`, edges filled by `padding`.
func im2colSame(x: UnsafePointer<Float>, channels: Int, frames: Int, kernel: Int, dilation: Int,
                padding: PaddingMode, cols: UnsafeMutablePointer<Float>) {
    let pad = dilation * (kernel - 1) / 2
    for c in 0..<channels {
        let src = x + c * frames
        for j in 0..<kernel {
            let dst = cols + (c * kernel + j) * frames, shift = j * dilation - pad
            for t in 0..<frames {
                if let i = paddedIndex(t + shift, frames: frames, padding: padding) { dst[t] = src[i] } else { dst[t] = 0 }
            }
        }
    }
}

/// The adjoint of `im2colSame`: `dx += col2im(dcols)`. A reflected sample receives the gradient
/// of every padded position that mirrors it.
func col2imSame(dcols: UnsafePointer<Float>, channels: Int, frames: Int, kernel: Int, dilation: Int,
                padding: PaddingMode, dx: UnsafeMutablePointer<Float>) {
    let pad = dilation * (kernel - 1) / 2
    for c in 0..<channels {
        let dst = dx + c * frames
        for j in 0..<kernel {
            let src = dcols + (c * kernel + j) * frames, shift = j * dilation - pad
            for t in 0..<frames {
                if let i = paddedIndex(t + shift, frames: frames, padding: padding) { dst[i] += src[t] }
            }
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
        im2colSame(x: x, channels: inChannels, frames: frames, kernel: kernel, dilation: dilation,
                   padding: padding, cols: cols)
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
        var y = [Float](repeating: 0, count: n * cout * t)
        var cols = [Float](repeating: 0, count: k == 1 ? 1 : cin * k * t)
        xv.withUnsafeBufferPointer { xp in
            wv.withUnsafeBufferPointer { wp in
                y.withUnsafeMutableBufferPointer { yp in
                    cols.withUnsafeMutableBufferPointer { cp in
                      bv.withUnsafeBufferPointer { bb in
                        let bp = hasBias ? bb.baseAddress : nil
                        for s in 0..<n {
                            conv1dForward(x: xp.baseAddress! + s * cin * t, inChannels: cin, frames: t,
                                          weight: wp.baseAddress!, bias: bp, outChannels: cout, kernel: k,
                                          dilation: dilation, padding: padding,
                                          y: yp.baseAddress! + s * cout * t, cols: cp.baseAddress!)
                        }
                      }
                    }
                }
            }
        }
        let inputs = [x, weight] + (bias.map { [$0] } ?? [])
        return record(Tensor(shape: [n, cout, t], values: y), inputs: inputs) { out in
            let dy = out.grad!
            var scratch = [Float](repeating: 0, count: 2 * cin * k * t)
            // Gradients go straight into the variables' buffers: weight and bias first (one im2col
            // per sample), then the input (col2im per sample).
            func run(dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>?, db: UnsafeMutablePointer<Float>?) {
                xv.withUnsafeBufferPointer { xp in
                    wv.withUnsafeBufferPointer { wp in
                        dy.withUnsafeBufferPointer { dyp in
                            scratch.withUnsafeMutableBufferPointer { sp in
                                for s in 0..<n {
                                    conv1dBackward(x: xp.baseAddress! + s * cin * t, inChannels: cin, frames: t,
                                                   weight: wp.baseAddress!, outChannels: cout, kernel: k, dilation: dilation,
                                                   padding: padding, dy: dyp.baseAddress! + s * cout * t,
                                                   dx: dx.map { $0 + s * cin * t }, dWeight: dw, dBias: db, cols: sp.baseAddress!)
                                }
                            }
                        }
                    }
                }
            }
            if let bias, bias.requiresGrad {
                var db = [Float](repeating: 0, count: cout)
                db.withUnsafeMutableBufferPointer { dbp in
                    if weight.requiresGrad { weight.accumulateGrad { dw in run(dx: nil, dw: dw, db: dbp.baseAddress!) } }
                    else { run(dx: nil, dw: nil, db: dbp.baseAddress!) }
                }
                bias.accumulateGrad { g in for i in 0..<cout { g[i] += db[i] } }
            } else if weight.requiresGrad {
                weight.accumulateGrad { dw in run(dx: nil, dw: dw, db: nil) }
            }
            if x.requiresGrad { x.accumulateGrad { dx in run(dx: dx, dw: nil, db: nil) } }
        }
    }
}
