import SVKernels

// MARK: - fp32 on the indirect kernel (AVX-512): each K index of a convolution is a pointer into its input

extension CAMPPlusEncoder {
    /// A 1×1 convolution of x (rows `frames` apart) into y (rows `ldy` apart), bias and ReLU fused.
    func pointwiseIndirect(_ fast: F32IndirectWeights, _ x: UnsafePointer<Float>, frames n: Int, bias: UnsafePointer<Float>?, relu: Bool,
                           into y: UnsafeMutablePointer<Float>, ldy: Int, ws: CAMPPlusWorkspace, threads: Int) {
        let rows = ws.rowPointers
        for c in 0..<fast.k { rows[c] = x + c * n }
        fast.gemm(rows: rows, frames: n, bias: bias, relu: relu, into: y, ldy: ldy, threads: threads)
    }
}

/// Zeroes the `margin` columns either side of each of `rows` rows of `frames` values, `stride` apart
/// (their contents are left from a call with another length).
func zeroMargins(_ x: UnsafeMutablePointer<Float>, rows: Int, stride: Int, margin: Int, frames: Int) {
    guard margin > 0 else { return }
    for r in 0..<rows {
        (x + r * stride).initialize(repeating: 0, count: margin)
        (x + r * stride + margin + frames).initialize(repeating: 0, count: stride - margin - frames)
    }
}

extension Conv2dLayer {
    /// The layer on the indirect kernel. x: (in, rows, frames) padded planes (rows `frames + 2` apart, a zero
    /// column either side); y laid out as `output` says.
    func forwardIndirect(_ fast: F32IndirectWeights, _ x: UnsafePointer<Float>, rows: Int, frames t: Int, relu: Bool,
                         into y: UnsafeMutablePointer<Float>, output: PlaneLayout, ws: CAMPPlusWorkspace, threads: Int) {
        let s = t + 2, pad = kernel / 2, outRows = outputRows(rows)
        let pointers = ws.rowPointers, zeros = UnsafePointer(ws.region(.zeros))
        for fo in 0..<outRows {
            // K index (c, kf, kt): input row fo·strideF + kf − pad of channel c (a zero run outside), column
            // offset kt − pad from the data start.
            for c in 0..<inChannels {
                for kf in 0..<kernel {
                    let fi = fo * strideF + kf - pad
                    let base = fi >= 0 && fi < rows ? x + (c * rows + fi) * s : zeros
                    for kt in 0..<kernel { pointers[(c * kernel + kf) * kernel + kt] = base + 1 + kt - pad }
                }
            }
            fast.gemm(rows: pointers, frames: t, bias: bias.pointer, relu: relu, into: y + fo * output.stride + output.offset,
                      ldy: outRows * output.stride, threads: threads)
        }
    }
}

extension StridedConv1d {
    /// The strided convolution on the indirect kernel: each phase of the input (`phaseTap`) copied with
    /// zero margins.
    func forwardIndirect(_ fast: F32IndirectWeights, _ x: UnsafePointer<Float>, frames t: Int, into y: UnsafeMutablePointer<Float>,
                         ws: CAMPPlusWorkspace, threads: Int) {
        let n = outputFrames(t), margin = phaseMargin
        let width = F32IndirectWeights.paddedFrames(n) + margin + phaseReach
        let phases = ws.region(.columns)
        for p in 0..<stride {
            let count = phaseFrames(t, phase: p)
            for c in 0..<inChannels {
                let row = phases + (p * inChannels + c) * width, src = x + c * t + p
                row.initialize(repeating: 0, count: margin)
                for i in 0..<count { row[margin + i] = src[i * stride] }
                (row + margin + count).initialize(repeating: 0, count: width - margin - count)
            }
        }
        let pointers = ws.rowPointers
        for k in 0..<kernel {
            let (phase, offset) = phaseTap(k)
            for c in 0..<inChannels {
                pointers[c * kernel + k] = UnsafePointer(phases + (phase * inChannels + c) * width + margin + offset)
            }
        }
        fast.gemm(rows: pointers, frames: n, bias: bias.pointer, relu: true, into: y, ldy: n, threads: threads)
    }
}
