/// e^x on 16 lanes: range reduction x = n·ln2 + r with |r| ≤ ln2/2, a degree-6 polynomial for e^r
/// (the Cephes `expf` coefficients, about 1 ulp), and 2^n built in the exponent bits. Inputs above
/// 88 are clamped (so n ≤ 127 and 2^n stays a normal Float); below −87.3, where e^x is no longer a
/// normal Float, the result is 0. Softmax only feeds it values ≤ 0. Written with SIMD types so that
/// release builds for AVX-512 keep it in zmm registers instead of calling libm's scalar `expf`.
@inline(__always)
public func exp16(_ x: SIMD16<Float>) -> SIMD16<Float> {
    let clamped = x.clamped(lowerBound: SIMD16(repeating: -87.3), upperBound: SIMD16(repeating: 88))
    // Adding 1.5·2^23 rounds to the nearest integer and leaves it in the low mantissa bits, so the
    // integer comes out by reinterpretation: Swift's generic Float→Int32 SIMD conversion is a
    // per-lane library call (about 30× slower than this whole function).
    let magic = SIMD16<Float>(repeating: 12_582_912)
    let shifted = clamped * 1.442_695_04 + magic
    let n = shifted - magic
    let exponent = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- 0x4B40_0000
    // ln 2 split in two parts so that n·ln2 is subtracted without rounding error.
    let r = clamped - n * 0.693_359_375 + n * 2.121_944_4e-4
    var p = SIMD16<Float>(repeating: 1.987_569_15e-4)
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_9e-3
    p = p * r + 4.166_579_59e-2
    p = p * r + 1.666_666_55e-1
    p = p * r + 5.000_000_12e-1
    let er = p * r * r + r + 1
    let scale = unsafeBitCast((exponent &+ 127) &<< 23, to: SIMD16<Float>.self)
    return (er * scale).replacing(with: 0, where: x .< -87.3)
}
