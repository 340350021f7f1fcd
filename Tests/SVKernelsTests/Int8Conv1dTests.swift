import Foundation
import Testing
@testable import SVKernels

/// The int8 convolution kernels (AVX-512 VNNI and portable C) against their naive twin, bit for bit,
/// and the quantised result against the fp32 convolution it approximates.
@Suite(.serialized) struct Int8Conv1dTests {
    struct Shape: Sendable, CustomStringConvertible {
        var out: Int, channels: Int, kernel: Int, dilation: Int, frames: Int, padding: PaddingMode
        var description: String { "\(out)x\(channels)·k\(kernel)d\(dilation) T=\(frames) \(padding.rawValue)" }
    }

    static let shapes: [Shape] = [
        Shape(out: 1, channels: 1, kernel: 1, dilation: 1, frames: 1, padding: .zeros),
        Shape(out: 5, channels: 3, kernel: 3, dilation: 2, frames: 17, padding: .reflect),
        Shape(out: 6, channels: 4, kernel: 1, dilation: 1, frames: 64, padding: .zeros),
        Shape(out: 7, channels: 17, kernel: 5, dilation: 1, frames: 65, padding: .reflect),
        Shape(out: 13, channels: 9, kernel: 3, dilation: 4, frames: 130, padding: .zeros),
        Shape(out: 64, channels: 64, kernel: 3, dilation: 3, frames: 201, padding: .reflect),
        Shape(out: 12, channels: 80, kernel: 5, dilation: 1, frames: 63, padding: .reflect),
    ]

    static func data(_ s: Shape, seed: UInt64) -> (x: [Float], w: [Float], bias: [Float]) {
        var rng = SplitMix64(seed: seed)
        let x = (0..<(s.channels * s.frames)).map { _ in (rng.nextFloat() - 0.5) * 6 }
        let w = (0..<(s.out * s.channels * s.kernel)).map { _ in (rng.nextFloat() - 0.5) * 0.4 }
        let bias = (0..<s.out).map { _ in rng.nextFloat() - 0.5 }
        return (x, w, bias)
    }

    static func run(_ weights: Int8ConvWeights, _ x: [Float], _ bias: [Float], _ s: Shape) -> [Float] {
        var y = [Float](repeating: .nan, count: s.out * s.frames)
        let packed = UnsafeMutableRawPointer.allocate(byteCount: weights.packedBytes(frames: s.frames), alignment: 64)
        defer { packed.deallocate() }
        x.withUnsafeBufferPointer { xb in bias.withUnsafeBufferPointer { bb in y.withUnsafeMutableBufferPointer { yb in
            weights.forward(xb.baseAddress!, frames: s.frames, padding: s.padding, bias: bb.baseAddress!, into: yb.baseAddress!, packed: packed)
        } } }
        return y
    }

    @Test("fast kernels equal the naive twin exactly", arguments: shapes)
    func kernelsMatchTwin(_ s: Shape) {
        let (x, w, bias) = Self.data(s, seed: UInt64(s.out * 1_000 + s.frames))
        // An input scale that clips the largest inputs, so the clamp is exercised too.
        let weights = w.withUnsafeBufferPointer {
            Int8ConvWeights(outChannels: s.out, inChannels: s.channels, kernel: s.kernel, dilation: s.dilation,
                            floatWeights: $0.baseAddress!, inputScale: 2.5 / 127)
        }
        var expected = [Float](repeating: 0, count: s.out * s.frames)
        x.withUnsafeBufferPointer { xb in bias.withUnsafeBufferPointer { bb in expected.withUnsafeMutableBufferPointer { yb in
            int8Conv1dNaive(x: xb.baseAddress!, weights: weights, frames: s.frames, padding: s.padding, bias: bb.baseAddress!, y: yb.baseAddress!)
        } } }
        let fast = Int8Kernel.current
        let portable = { () -> [Float] in
            let previous = Int8Kernel.use(.portable)
            defer { Int8Kernel.use(previous) }
            return Self.run(weights, x, bias, s)
        }()
        #expect(portable == expected, "portable C vs naive")
        let vectorised = Self.run(weights, x, bias, s)
        #expect(vectorised == expected, "\(fast) vs naive")
    }

    @Test("the machine's kernel is the VNNI one exactly when the CPU reports AVX-512 VNNI")
    func dispatch() throws {
        let flags = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
            .split(separator: "\n").first { $0.hasPrefix("flags") }.map { Set($0.split(separator: " ").map(String.init)) } ?? []
        let vnni = ["avx512f", "avx512bw", "avx512_vnni"].allSatisfy(flags.contains)
        #expect(Int8Kernel.best == (vnni ? .avx512VNNI : .portable), "cpu flags say VNNI: \(vnni)")
        #expect(Int8Kernel.current == Int8Kernel.best)
        // Forcing the portable kernel works everywhere and can be undone.
        let previous = Int8Kernel.use(.portable)
        #expect(Int8Kernel.current == .portable)
        Int8Kernel.use(previous)
        #expect(Int8Kernel.current == previous)
    }

    @Test("int8 approximates the fp32 convolution within the quantisation error")
    func approximatesFloat() {
        let s = Shape(out: 64, channels: 64, kernel: 3, dilation: 2, frames: 150, padding: .reflect)
        let (x, w, bias) = Self.data(s, seed: 42)
        let peak = x.map(abs).max()!
        let weights = w.withUnsafeBufferPointer {
            Int8ConvWeights(outChannels: s.out, inChannels: s.channels, kernel: s.kernel, dilation: s.dilation,
                            floatWeights: $0.baseAddress!, inputScale: peak / 127)
        }
        let y = Self.run(weights, x, bias, s)
        var reference = [Float](repeating: 0, count: s.out * s.frames)
        let scratch = [Float](repeating: 0, count: conv1dScratchCount(inChannels: s.channels, kernel: s.kernel, frames: s.frames))
        var scratchCopy = scratch
        x.withUnsafeBufferPointer { xb in w.withUnsafeBufferPointer { wb in bias.withUnsafeBufferPointer { bb in
            reference.withUnsafeMutableBufferPointer { yb in scratchCopy.withUnsafeMutableBufferPointer { sb in
                conv1dSame(x: xb.baseAddress!, inChannels: s.channels, frames: s.frames, weight: wb.baseAddress!, bias: bb.baseAddress!,
                           outChannels: s.out, kernel: s.kernel, dilation: s.dilation, padding: s.padding, y: yb.baseAddress!,
                           scratch: sb.baseAddress!)
            } }
        } } }
        var error = 0.0, energy = 0.0
        for i in y.indices { error += Double(y[i] - reference[i]) * Double(y[i] - reference[i]); energy += Double(reference[i]) * Double(reference[i]) }
        let snr = 10 * log10(energy / error)
        // 8-bit weights and inputs: ~ 30–40 dB signal-to-quantisation-noise; 25 dB would mean a bug.
        #expect(snr > 25, "SNR \(snr) dB")
    }
}
