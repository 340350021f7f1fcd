/// How a "same" 1-D convolution extends its input beyond the edges.
public enum PaddingMode: String, Codable, Sendable {
    /// Mirror without repeating the edge sample (PyTorch `reflect`): SpeechBrain and sslsv.
    case reflect
    /// Zeros (PyTorch's default `padding=`): WeSpeaker.
    case zeros
}

/// Number of columns of the im2col scratch buffer `conv1dSame` needs: `inChannels·kernel × frames`.
@inlinable
public func conv1dScratchCount(inChannels: Int, kernel: Int, frames: Int) -> Int {
    kernel == 1 ? 0 : inChannels * kernel * frames
}

/// Stride-1 "same" convolution over time, as GEMM on OpenBLAS.
///
/// - x is (inChannels, frames), row stride `frames`.
/// - weight is (outChannels, inChannels·kernel): PyTorch's (out, in, k) layout flattened.
/// - bias is (outChannels) or nil.
/// - y is (outChannels, frames).
/// - scratch holds `conv1dScratchCount(...)` floats (unused for kernel 1).
/// The input is padded by `dilation·(kernel−1)/2` on both sides with `padding`; reflect padding
/// needs `frames > pad` (PyTorch has the same limit).
public func conv1dSame(
    x: UnsafePointer<Float>, inChannels: Int, frames: Int,
    weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outChannels: Int,
    kernel: Int, dilation: Int, padding: PaddingMode,
    y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>?
) {
    precondition(kernel >= 1 && kernel % 2 == 1, "conv1dSame: odd kernel expected, got \(kernel)")
    let pad = dilation * (kernel - 1) / 2
    precondition(padding == .zeros || frames > pad,
                 "conv1dSame: reflect padding of \(pad) needs more than \(pad) frames, got \(frames)")
    if let bias {
        for o in 0..<outChannels { (y + o * frames).initialize(repeating: bias[o], count: frames) }
    }
    let beta: Float = bias == nil ? 0 : 1
    if kernel == 1 {
        gemm(.none, .none, m: outChannels, n: frames, k: inChannels, a: weight, lda: inChannels,
             b: x, ldb: frames, beta: beta, c: y, ldc: frames)
        return
    }
    guard let cols = scratch else { preconditionFailure("conv1dSame: kernel \(kernel) needs scratch") }
    im2col(x: x, channels: inChannels, frames: frames, kernel: kernel, dilation: dilation,
           pad: pad, padding: padding, cols: cols)
    gemm(.none, .none, m: outChannels, n: frames, k: inChannels * kernel, a: weight,
         lda: inChannels * kernel, b: cols, ldb: frames, beta: beta, c: y, ldc: frames)
}

/// Row `c·kernel + j` of `cols` is input channel c shifted by `j·dilation − pad` frames, with the
/// edges filled according to `padding`. (Public for the training graph's convolution backward.)
@inline(__always)
public func im2col(x: UnsafePointer<Float>, channels: Int, frames: Int, kernel: Int, dilation: Int,
            pad: Int, padding: PaddingMode, cols: UnsafeMutablePointer<Float>) {
    for c in 0..<channels {
        let src = x + c * frames
        for j in 0..<kernel {
            let dst = cols + (c * kernel + j) * frames
            let shift = j * dilation - pad
            // Interior: t + shift inside [0, frames); edges on either side.
            let lo = min(max(0, -shift), frames), hi = max(lo, min(frames, frames - shift))
            if hi > lo { (dst + lo).update(from: src + lo + shift, count: hi - lo) }
            for t in 0..<lo { dst[t] = edgeSample(src, frames, t + shift, padding) }
            for t in hi..<frames { dst[t] = edgeSample(src, frames, t + shift, padding) }
        }
    }
}

@inline(__always)
public func edgeSample(_ src: UnsafePointer<Float>, _ frames: Int, _ index: Int, _ padding: PaddingMode) -> Float {
    switch padding {
    case .zeros:
        return 0
    case .reflect:
        var i = index
        if i < 0 { i = -i }
        if i >= frames { i = 2 * (frames - 1) - i }
        return src[i]
    }
}
