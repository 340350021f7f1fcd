import Testing
@testable import SVKernels

/// The indirect int8 path (channel-interleaved activations, one panel pointer per tap) against naive
/// Swift twins, bit for bit, with both kernels (AVX-512 VNNI and portable C).
@Suite(.serialized) struct Int8IndirectTests {
    struct Layout: Sendable, CustomStringConvertible {
        var channels: Int, frames: Int, step: Int, margin: Int, extra: Int, affine: Bool, relu: Bool, zeroPoint: Int
        var width: Int { margin + frames + extra }
        var description: String {
            "C=\(channels) T=\(frames) step \(step) margin \(margin) width \(width) affine \(affine) relu \(relu) zero point \(zeroPoint)"
        }
    }

    static let layouts: [Layout] = [
        Layout(channels: 1, frames: 1, step: 1, margin: 0, extra: 0, affine: false, relu: false, zeroPoint: 128),
        Layout(channels: 3, frames: 17, step: 1, margin: 2, extra: 3, affine: true, relu: true, zeroPoint: 0),
        Layout(channels: 8, frames: 64, step: 1, margin: 0, extra: 0, affine: true, relu: false, zeroPoint: 128),
        Layout(channels: 8, frames: 64, step: 1, margin: 0, extra: 0, affine: true, relu: false, zeroPoint: 0),
        Layout(channels: 13, frames: 50, step: 2, margin: 1, extra: 2, affine: false, relu: true, zeroPoint: 0),
        Layout(channels: 32, frames: 131, step: 1, margin: 4, extra: 21, affine: true, relu: true, zeroPoint: 128),
    ]

    /// Input values spread over ±(scale·160), so the clamp is exercised, with NaN where asked.
    static func input(count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in (rng.nextFloat() - 0.5) * 4 }
    }

    /// The stored byte: clamp(round_half_even(v·inverse), −zp, 255 − zp) + zp; a NaN stores 0.
    static func stored(_ v: Float, inverse: Float, zeroPoint zp: Int) -> UInt8 {
        let r = (v * inverse).rounded(.toNearestOrEven)
        guard !r.isNaN else { return 0 }
        return UInt8(Int(max(Float(-zp), min(Float(255 - zp), r))) + zp)
    }

    /// What `Int8Activations.interleave` must write, computed one value at a time.
    static func naiveInterleave(_ x: [Float], _ l: Layout, scale: [Float], shift: [Float], inverse: Float) -> [UInt8] {
        let stride = l.frames * l.step
        var out = [UInt8](repeating: UInt8(l.zeroPoint), count: Int8Activations.byteCount(channels: l.channels, width: l.width))
        for c in 0..<l.channels {
            for t in 0..<l.frames {
                var v = x[c * stride + t * l.step]
                if l.affine { v = shift[c].addingProduct(scale[c], v) }
                if l.relu { v = v > 0 ? v : 0 }
                out[((c / 4) * l.width + l.margin + t) * 4 + c % 4] = stored(v, inverse: inverse, zeroPoint: l.zeroPoint)
            }
        }
        return out
    }

    static func interleave(_ x: [Float], _ l: Layout, scale: [Float], shift: [Float], inverse: Float) -> [UInt8] {
        var out = [UInt8](repeating: 7, count: Int8Activations.byteCount(channels: l.channels, width: l.width))
        x.withUnsafeBufferPointer { xb in scale.withUnsafeBufferPointer { sb in shift.withUnsafeBufferPointer { hb in
            out.withUnsafeMutableBufferPointer { ob in
                Int8Activations.interleave(xb.baseAddress!, channels: l.channels, channelStride: l.frames * l.step, frames: l.frames,
                                           frameStep: l.step, scale: l.affine ? sb.baseAddress! : nil,
                                           shift: l.affine ? hb.baseAddress! : nil, relu: l.relu, inverseScale: inverse,
                                           zeroPoint: l.zeroPoint, margin: l.margin, width: l.width, into: ob.baseAddress!)
            }
        } } }
        return out
    }

    static func withKernel<T>(_ kernel: Int8Kernel, _ body: () -> T) -> T {
        let previous = Int8Kernel.use(kernel)
        defer { Int8Kernel.use(previous) }
        return body()
    }

    @Test("interleaving equals its naive twin on both kernels", arguments: layouts)
    func interleaveMatchesTwin(_ l: Layout) {
        var x = Self.input(count: l.channels * l.frames * l.step, seed: UInt64(l.channels * 100 + l.frames))
        x[x.count / 2] = .nan   // after an affine map and a ReLU a NaN becomes 0, else it stores 0
        var rng = SplitMix64(seed: 9)
        let scale = (0..<l.channels).map { _ in (rng.nextFloat() - 0.3) * 2 }, shift = (0..<l.channels).map { _ in rng.nextFloat() - 0.5 }
        let inverse: Float = 127 / 1.5
        let expected = Self.naiveInterleave(x, l, scale: scale, shift: shift, inverse: inverse)
        #expect(Self.withKernel(.portable) { Self.interleave(x, l, scale: scale, shift: shift, inverse: inverse) } == expected, "portable")
        #expect(Self.interleave(x, l, scale: scale, shift: shift, inverse: inverse) == expected, "\(Int8Kernel.current)")
    }

    struct Product: Sendable, CustomStringConvertible {
        var out: Int, channels: Int, taps: Int, frames: Int, relu: Bool, bias: Bool, unsigned: Bool
        var description: String { "\(out)×\(channels)·\(taps) T=\(frames) relu \(relu) bias \(bias) unsigned \(unsigned)" }
    }

    static let products: [Product] = [
        Product(out: 1, channels: 1, taps: 1, frames: 1, relu: false, bias: false, unsigned: false),
        Product(out: 7, channels: 5, taps: 3, frames: 17, relu: true, bias: true, unsigned: true),
        Product(out: 13, channels: 32, taps: 9, frames: 80, relu: false, bias: true, unsigned: false),
        Product(out: 6, channels: 12, taps: 5, frames: 129, relu: true, bias: false, unsigned: true),
        Product(out: 32, channels: 128, taps: 3, frames: 250, relu: false, bias: false, unsigned: true),
    ]

    /// Each tap reads the same interleaved runs at its own column offset (as a dilated convolution
    /// does); the twin sums quantised value × weight straight from the runs.
    @Test("the indirect GEMM equals its naive twin on both kernels", arguments: products)
    func gemmMatchesTwin(_ p: Product) {
        var rng = SplitMix64(seed: UInt64(p.out * 7 + p.frames))
        let margin = 2 * (p.taps - 1), width = Int8Activations.paddedFrames(p.frames) + margin
        let runs = (0..<Int8Activations.byteCount(channels: p.channels, width: width)).map { _ in UInt8(rng.next() % 256) }
        let weights = (0..<(p.out * p.channels * p.taps)).map { _ in Int8(truncatingIfNeeded: rng.next() % 256) }
        let weightScale = (0..<p.out).map { _ in 0.001 + rng.nextFloat() * 0.01 }
        let fold = (0..<p.out).map { _ in rng.nextFloat() - 0.5 }
        let bias: [Float]? = p.bias ? (0..<p.out).map { _ in rng.nextFloat() - 0.5 } : nil
        let inputScale: Float = 0.02
        let conv = Int8IndirectConv(outChannels: p.out, inChannels: p.channels, taps: p.taps, weights: weights,
                                    weightScale: weightScale, inputScale: inputScale, foldScale: fold, bias: bias, unsignedInput: p.unsigned)
        #expect(conv.inputZeroPoint == (p.unsigned ? 0 : 128))
        #expect(conv.groups == p.taps * ((p.channels + 3) / 4))
        let offset = { (tap: Int) in 2 * tap }   // tap j reads from column 2j
        var expected = [Float](repeating: 0, count: p.out * p.frames)
        for m in 0..<p.out {
            for t in 0..<p.frames {
                var acc: Int32 = 0
                for c in 0..<p.channels {
                    for j in 0..<p.taps {
                        let index: Int = ((c / 4) * width + t + offset(j)) * 4 + c % 4
                        let q: Int32 = Int32(runs[index]) - Int32(conv.inputZeroPoint)
                        acc += q * Int32(weights[(m * p.channels + c) * p.taps + j])
                    }
                }
                let v = (bias?[m] ?? 0).addingProduct(Float(acc), weightScale[m] * fold[m] * inputScale)
                expected[m * p.frames + t] = p.relu ? (v > 0 ? v : 0) : v
            }
        }
        func run() -> [Float] {
            var y = [Float](repeating: .nan, count: p.out * p.frames)
            runs.withUnsafeBufferPointer { rb in
                var panels = [UnsafePointer<UInt8>?](repeating: nil, count: conv.groups)
                for j in 0..<p.taps {
                    for g in 0..<conv.channelGroups {
                        panels[j * conv.channelGroups + g] = Int8Activations.panel(rb.baseAddress!, group: g, width: width, column: offset(j))
                    }
                }
                y.withUnsafeMutableBufferPointer { yb in
                    conv.gemm(panels: panels, frames: p.frames, relu: p.relu, into: yb.baseAddress!, ldy: p.frames)
                }
            }
            return y
        }
        #expect(Self.withKernel(.portable) { run() } == expected, "portable")
        #expect(run() == expected, "\(Int8Kernel.current)")
    }

    @Test func scratchGrowsAndKeepsItsZeroRun() {
        let scratch = Int8Scratch()
        scratch.reserve(byteCount: 100, panelCount: 3, zeroBytes: 64)
        let first = scratch.bytes
        scratch.reserve(byteCount: 50, panelCount: 2, zeroBytes: 32)
        #expect(scratch.bytes == first, "a smaller request reuses the memory")
        scratch.reserve(byteCount: 4_000, panelCount: 10, zeroBytes: 256)
        let signed = scratch.zeroRun(zeroPoint: 128), unsigned = scratch.zeroRun(zeroPoint: 0)
        #expect((0..<256).allSatisfy { signed[$0] == 128 && unsigned[$0] == 0 })
        #expect(Int(bitPattern: scratch.bytes) % 64 == 0)
        #expect(scratch.byteCount >= 4_000 + 2 * 256 + 10 * 8)
    }
}
