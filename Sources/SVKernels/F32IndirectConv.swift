import CF32Kernels
import Dispatch

/// A convolution's fp32 weights packed for the indirect AVX-512 kernel (`spkv_f32_gemm_indirect`):
/// the caller hands one pointer per K index (an input channel at a tap's offset), so no im2col copy is
/// made and OpenBLAS's packing is skipped. It runs where the CPU has AVX-512 F (`isAvailable`); it does
/// not depend on OpenBLAS's kernel choice, which on CPUs OpenBLAS 0.3.21 does not know is its generic
/// `Prescott` code, three times slower. Single-threaded. Immutable, shareable.
public final class F32IndirectWeights: @unchecked Sendable {
    public let outChannels: Int, k: Int
    let packed: AlignedBuffer

    /// Whether this CPU runs the kernel.
    public static let isAvailable = spkv_f32_available() != 0

    /// Floats the kernel may read from each row pointer for `frames` output frames (a multiple of 16).
    public static func paddedFrames(_ frames: Int) -> Int { Int(spkv_f32_tp(Int32(frames))) }

    /// From row-major weights (outChannels × k), k = in·taps in PyTorch's order (channel-major, tap fastest).
    public init(_ weights: UnsafePointer<Float>, outChannels: Int, k: Int) {
        self.outChannels = outChannels; self.k = k
        packed = AlignedBuffer(count: spkv_f32_packed_count(Int32(outChannels), Int32(k)))
        spkv_f32_pack_weights(weights, Int32(outChannels), Int32(k), Int32(k), packed.pointer)
    }

    /// The weight at (row, column) of the matrix it was built from.
    @inline(__always) public func weight(_ row: Int, _ column: Int) -> Float {
        let mr = Int(SPKV_F32_MR)
        return packed.pointer[((row / mr) * k + column) * mr + row % mr]
    }

    /// y[m][t] = bias[m] + Σ_j w[m][j]·rows[j][t] for t < frames (row stride `ldy`), then max(·, 0) when `relu`.
    /// Each `rows[j]` must be readable for `paddedFrames(frames)` floats. With `threads` > 1 the columns are
    /// split into that many ranges run at once (each thread computes the same sums: results do not depend on it).
    public func gemm(rows: UnsafePointer<UnsafePointer<Float>?>, frames: Int, bias: UnsafePointer<Float>?, relu: Bool,
                     into y: UnsafeMutablePointer<Float>, ldy: Int, threads: Int = 1) {
        precondition(Self.isAvailable, "F32IndirectWeights: this CPU has no AVX-512")
        let blocks = (frames + 63) / 64, parts = min(max(1, threads), blocks)
        guard parts > 1 else {
            spkv_f32_gemm_indirect(packed.pointer, Int32(outChannels), Int32(k), rows, 0, Int32(frames), bias, relu ? 1 : 0, y, Int32(ldy))
            return
        }
        nonisolated(unsafe) let rows = rows, bias = bias, y = y
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            let from = part * blocks / parts * 64, to = min(frames, (part + 1) * blocks / parts * 64)
            spkv_f32_gemm_indirect(packed.pointer, Int32(outChannels), Int32(k), rows, Int32(from), Int32(to), bias, relu ? 1 : 0,
                                   y, Int32(ldy))
        }
    }
}
