/// Naive twin of `conv1dSame`: direct summation in Double, padding resolved per tap.
public func conv1dSameNaive(
    x: UnsafePointer<Float>, inChannels: Int, frames: Int,
    weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outChannels: Int,
    kernel: Int, dilation: Int, padding: PaddingMode,
    y: UnsafeMutablePointer<Float>
) {
    let pad = dilation * (kernel - 1) / 2
    for o in 0..<outChannels {
        for t in 0..<frames {
            var sum = Double(bias?[o] ?? 0)
            for c in 0..<inChannels {
                for j in 0..<kernel {
                    let i = t + j * dilation - pad
                    let v: Float = (0..<frames).contains(i) ? x[c * frames + i]
                        : edgeSample(x + c * frames, frames, i, padding)
                    sum += Double(weight[(o * inChannels + c) * kernel + j]) * Double(v)
                }
            }
            y[o * frames + t] = Float(sum)
        }
    }
}
