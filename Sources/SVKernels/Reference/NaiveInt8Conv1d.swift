/// Naive twin of `Int8ConvWeights.forward`: quantises each input sample where it is read, sums
/// q(x)·w directly in Int32 (no packing, no zero point), and dequantises with one fused
/// multiply-add, so it must agree with both fast kernels bit for bit.
public func int8Conv1dNaive(x: UnsafePointer<Float>, weights: Int8ConvWeights, frames: Int, padding: PaddingMode,
                            bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>) {
    let w = weights.weights, kernel = weights.kernel, dilation = weights.dilation
    let pad = dilation * (kernel - 1) / 2, inverse = 1 / weights.inputScale
    func input(_ c: Int, _ t: Int) -> Int32 {
        var i = t
        if i < 0 || i >= frames {
            guard padding == .reflect else { return 0 }
            if i < 0 { i = -i }
            if i >= frames { i = 2 * (frames - 1) - i }
        }
        return Int32(quantizeInt8(x[c * frames + i], inverseScale: inverse))
    }
    for m in 0..<weights.outChannels {
        let scale = weights.weightScale[m] * weights.inputScale
        for t in 0..<frames {
            var acc: Int32 = 0
            for c in 0..<weights.inChannels {
                for j in 0..<kernel {
                    acc += input(c, t + j * dilation - pad) * Int32(w[m * weights.k + c * kernel + j])
                }
            }
            y[m * frames + t] = (bias?[m] ?? 0).addingProduct(Float(acc), scale)
        }
    }
}
