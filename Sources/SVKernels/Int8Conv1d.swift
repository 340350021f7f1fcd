import CInt8Kernels

/// Which int8 kernel runs: chosen once from the CPU (AVX-512 VNNI where available).
public enum Int8Kernel: Int32, Sendable, CustomStringConvertible {
    case portable = 0
    case avx512VNNI = 1

    /// The kernel the calling thread uses.
    public static var current: Int8Kernel { Int8Kernel(rawValue: spkv_q8_kernel()) ?? .portable }
    /// The best kernel this CPU runs (what every thread uses unless it forced another).
    public static var best: Int8Kernel { Int8Kernel(rawValue: spkv_q8_best_kernel()) ?? .portable }

    /// Forces a kernel on the calling thread (tests compare them); returns the previous one.
    /// Unsupported choices are ignored.
    @discardableResult
    public static func use(_ kernel: Int8Kernel) -> Int8Kernel {
        Int8Kernel(rawValue: spkv_q8_set_kernel(kernel.rawValue)) ?? .portable
    }

    public var description: String { self == .avx512VNNI ? "AVX-512 VNNI" : "portable C" }
}

/// Symmetric int8 quantisation of one value with the reference rounding (half to even) and clamp.
@inline(__always)
public func quantizeInt8(_ x: Float, inverseScale: Float) -> Int8 {
    let r = (x * inverseScale).rounded(.toNearestOrEven)
    guard !r.isNaN else { return -128 }   // as the C kernels (their clamps send NaN to −128)
    return Int8(max(-128, min(127, r)))
}

/// A convolution's weights quantised per output channel: rows of K4 int8 values (K = in·kernel,
/// zero padded to a multiple of 4), scale[m] = max|w[m]| / 127, and the zero-point compensation
/// 128·Σ w[m] the kernel subtracts. Immutable and shareable.
public final class Int8ConvWeights: @unchecked Sendable {
    public let outChannels: Int, inChannels: Int, kernel: Int, dilation: Int
    /// K = inChannels·kernel and its padded row length.
    public let k: Int, rowLength: Int
    public let weightScale: [Float]
    /// Static per-tensor scale of the input activations (from calibration).
    public let inputScale: Float
    let rows: UnsafeMutablePointer<Int8>
    let compensation: UnsafeMutablePointer<Int32>
    /// weightScale[m] · inputScale: the dequantisation factor of output row m.
    let outputScale: UnsafeMutablePointer<Float>

    /// From quantised weights (out, in·kernel) row-major, their per-row scales and the input scale.
    public init(outChannels: Int, inChannels: Int, kernel: Int, dilation: Int, weights: [Int8], weightScale: [Float],
                inputScale: Float) {
        precondition(weights.count == outChannels * inChannels * kernel && weightScale.count == outChannels,
                     "Int8ConvWeights: \(weights.count) weights / \(weightScale.count) scales for (\(outChannels), \(inChannels)·\(kernel))")
        precondition(inputScale > 0 && inputScale.isFinite, "Int8ConvWeights: input scale must be positive")
        self.outChannels = outChannels; self.inChannels = inChannels; self.kernel = kernel; self.dilation = dilation
        k = inChannels * kernel
        rowLength = (k + 3) & ~3
        self.weightScale = weightScale
        self.inputScale = inputScale
        rows = .allocate(capacity: outChannels * rowLength)
        rows.initialize(repeating: 0, count: outChannels * rowLength)
        compensation = .allocate(capacity: outChannels)
        outputScale = .allocate(capacity: outChannels)
        for m in 0..<outChannels {
            var sum: Int32 = 0
            for j in 0..<k {
                rows[m * rowLength + j] = weights[m * k + j]
                sum += Int32(weights[m * k + j])
            }
            compensation[m] = 128 * sum
            outputScale[m] = weightScale[m] * inputScale
        }
    }

    /// Quantises fp32 weights (out, in·kernel) per output channel (scale = max|w|/127; an all-zero
    /// row gets scale 1).
    public convenience init(outChannels: Int, inChannels: Int, kernel: Int, dilation: Int, floatWeights: UnsafePointer<Float>,
                            inputScale: Float) {
        let k = inChannels * kernel
        var q = [Int8](repeating: 0, count: outChannels * k), scales = [Float](repeating: 1, count: outChannels)
        for m in 0..<outChannels {
            var peak: Float = 0
            for j in 0..<k { peak = max(peak, abs(floatWeights[m * k + j])) }
            let scale: Float = peak > 0 ? peak / 127 : 1
            scales[m] = scale
            for j in 0..<k { q[m * k + j] = quantizeInt8(floatWeights[m * k + j], inverseScale: 1 / scale) }
        }
        self.init(outChannels: outChannels, inChannels: inChannels, kernel: kernel, dilation: dilation, weights: q,
                  weightScale: scales, inputScale: inputScale)
    }

    deinit {
        rows.deallocate(); compensation.deallocate(); outputScale.deallocate()
    }

    /// The quantised weights (out, in·kernel), without the row padding.
    public var weights: [Int8] {
        var out = [Int8](repeating: 0, count: outChannels * k)
        for m in 0..<outChannels { for j in 0..<k { out[m * k + j] = rows[m * rowLength + j] } }
        return out
    }

    /// Bytes of packed input scratch `forward` needs for `frames` frames.
    public func packedBytes(frames: Int) -> Int { spkv_q8_packed_bytes(Int32(k), Int32(frames)) }

    /// Only the input quantisation and packing of `forward` (for benchmarks).
    public func packOnly(_ x: UnsafePointer<Float>, frames: Int, padding: PaddingMode, packed: UnsafeMutableRawPointer) {
        spkv_q8_pack(x, Int32(inChannels), Int32(frames), Int32(kernel), Int32(dilation), padding == .reflect ? 1 : 0,
                     1 / inputScale, packed.assumingMemoryBound(to: UInt8.self))
    }

    /// y (out, frames) = dequantised int8 convolution of x (in, frames), "same" padding (`padding`),
    /// plus `bias` (out, or nil). `packed` holds `packedBytes(frames:)` bytes of scratch.
    public func forward(_ x: UnsafePointer<Float>, frames: Int, padding: PaddingMode, bias: UnsafePointer<Float>?,
                        into y: UnsafeMutablePointer<Float>, packed: UnsafeMutableRawPointer) {
        let pad = dilation * (kernel - 1) / 2
        precondition(padding == .zeros || frames > pad, "Int8ConvWeights: reflect padding of \(pad) needs more than \(pad) frames")
        let bytes = packed.assumingMemoryBound(to: UInt8.self)
        spkv_q8_pack(x, Int32(inChannels), Int32(frames), Int32(kernel), Int32(dilation), padding == .reflect ? 1 : 0,
                     1 / inputScale, bytes)
        spkv_q8_gemm(rows, compensation, Int32(outChannels), Int32(k), bytes, Int32(frames), outputScale, bias, y, Int32(frames))
    }
}
