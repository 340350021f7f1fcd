/// e^x on 16 lanes: range reduction x = n·ln2 + r with |r| ≤ ln2/2, a degree-6 polynomial for e^r
/// (the Cephes `expf` coefficients, about 1 ulp), and 2^n built in the exponent bits. Inputs are
/// clamped to 88.7 above; below −87.3 (where e^x is no longer a normal Float) the result is 0.
/// Softmax only feeds it values ≤ 0. Written with SIMD types so that release builds for AVX-512 keep it in zmm registers
/// instead of calling libm's scalar `expf` per element.
@inline(__always)
public func exp16(_ x: SIMD16<Float>) -> SIMD16<Float> {
    let clamped = x.clamped(lowerBound: SIMD16(repeating: -87.3), upperBound: SIMD16(repeating: 88.7))
    let n = (clamped * 1.442_695_04).rounded(.toNearestOrEven)
    // ln 2 split in two parts so that n·ln2 is subtracted without rounding error.
    let r = clamped - n * 0.693_359_375 + n * 2.121_944_4e-4
    var p = SIMD16<Float>(repeating: 1.987_569_15e-4)
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_9e-3
    p = p * r + 4.166_579_59e-2
    p = p * r + 1.666_666_55e-1
    p = p * r + 5.000_000_12e-1
    let er = p * r * r + r + 1
    let scale = unsafeBitCast((SIMD16<Int32>(n) &+ 127) &<< 23, to: SIMD16<Float>.self)
    // Below −87.3 the true value is subnormal or zero: return 0 (softmax weights that small vanish anyway).
    return (er * scale).replacing(with: 0, where: x .< -87.3)
}
