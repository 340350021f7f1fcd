import Testing
import SVKernels
@testable import SVModels

/// Each kind of CAM++ int8 layer (2-D front-module convolution, strided TDNN layer, pointwise with a
/// fused BatchNorm-ReLU, dilated local convolution) against a naive twin that quantises every input
/// value where the convolution reads it: the panel offsets, phases and padding rows must agree bit for
/// bit, on both int8 kernels. The layers quantise their inputs unsigned, as a CAM++ model does
/// (every int8 layer reads a ReLU output); the stored form is checked in the kernel tests.
@Suite(.serialized) struct CAMPPlusInt8Tests {
    struct Weights {
        var conv: Int8IndirectConv
        var q: [Int8], weightScale: [Float], fold: [Float], bias: [Float]
        /// The dequantisation factor of row m, computed as the kernel's setup does.
        func scale(_ m: Int) -> Float { weightScale[m] * fold[m] * conv.inputScale }
        func output(_ m: Int, _ acc: Int32, relu: Bool) -> Float {
            let v = bias[m].addingProduct(Float(acc), scale(m))
            return relu ? max(v, 0) : v
        }
    }

    static func weights(out: Int, channels: Int, taps: Int, seed: UInt64) -> Weights {
        var rng = SplitMix64(seed: seed)
        let q = (0..<(out * channels * taps)).map { _ in Int8(Int(rng.next() % 255) - 127) }
        let weightScale = (0..<out).map { _ in 0.001 + rng.nextFloat() * 0.01 }
        let fold = (0..<out).map { _ in rng.nextFloat() * 2 - 0.5 }, bias = (0..<out).map { _ in rng.nextFloat() - 0.5 }
        let conv = Int8IndirectConv(outChannels: out, inChannels: channels, taps: taps, weights: q, weightScale: weightScale,
                                    inputScale: 0.03, foldScale: fold, bias: bias, unsignedInput: true)
        return Weights(conv: conv, q: q, weightScale: weightScale, fold: fold, bias: bias)
    }

    /// The unsigned quantised value the kernel multiplies: clamp(round_half_even(x/0.03), 0, 255).
    static func q(_ x: Float, _ w: Weights) -> Int32 {
        Int32(max(0, min(255, (x * (1 / w.conv.inputScale)).rounded(.toNearestOrEven))))
    }

    /// Values in ±5: negatives (clamped to 0) and beyond the 0.03·255 ≈ 7.7 the scale represents only
    /// after the affine map, so both clamps are exercised.
    static func input(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in (rng.nextFloat() - 0.5) * 10 }
    }

    /// The naive 1-D convolution: output frame j, tap k reads input frame `input(j, k)` (zero outside the input).
    static func naive1d(_ w: Weights, _ x: [Float], inChannels cin: Int, kernel: Int, inputFrames t: Int, outputFrames n: Int,
                        relu: Bool, input: (Int, Int) -> Int) -> [Float] {
        let cout = w.conv.outChannels
        var y = [Float](repeating: 0, count: cout * n)
        for o in 0..<cout {
            for j in 0..<n {
                var acc: Int32 = 0
                for c in 0..<cin {
                    for k in 0..<kernel {
                        let i = input(j, k)
                        guard i >= 0, i < t else { continue }
                        acc += q(x[c * t + i], w) * Int32(w.q[(o * cin + c) * kernel + k])
                    }
                }
                y[o * n + j] = w.output(o, acc, relu: relu)
            }
        }
        return y
    }

    static func workspace() -> CAMPPlusWorkspace {
        let ws = CAMPPlusWorkspace()
        ws.int8.reserve(byteCount: 1 << 20, panelCount: 1024, zeroBytes: 4096)
        return ws
    }

    /// `body` with the portable kernel, then with the machine's: both results.
    static func bothKernels(_ body: () -> [Float]) -> [(Int8Kernel, [Float])] {
        let previous = Int8Kernel.use(.portable)
        let portable = body()
        Int8Kernel.use(previous)
        return [(.portable, portable), (Int8Kernel.current, body())]
    }

    @Test("2-D convolution: taps, frequency stride and padding rows", arguments: [(3, 1), (3, 2), (1, 2)])
    func frontModuleConvolution(kernel: Int, strideF: Int) {
        let cin = 6, cout = 7, rows = 9, t = 21, pad = kernel / 2
        let w = Self.weights(out: cout, channels: cin, taps: kernel * kernel, seed: UInt64(kernel * 10 + strideF))
        let layer = Conv2dLayer(inChannels: cin, outChannels: cout, kernel: kernel, strideF: strideF, weight: AlignedBuffer(count: 0),
                                bias: AlignedBuffer(count: 0), name: "test", int8: w.conv)
        let x = Self.input(cin * rows * t, seed: 3), outRows = layer.outputRows(rows)
        var expected = [Float](repeating: 0, count: cout * outRows * t)
        for o in 0..<cout {
            for fo in 0..<outRows {
                for j in 0..<t {
                    var acc: Int32 = 0
                    for c in 0..<cin {
                        for kf in 0..<kernel {
                            for kt in 0..<kernel {
                                let fi = fo * strideF + kf - pad, ti = j + kt - pad
                                guard fi >= 0, fi < rows, ti >= 0, ti < t else { continue }
                                acc += Self.q(x[(c * rows + fi) * t + ti], w) * Int32(w.q[((o * cin + c) * kernel + kf) * kernel + kt])
                            }
                        }
                    }
                    expected[(o * outRows + fo) * t + j] = w.output(o, acc, relu: true)
                }
            }
        }
        let ws = Self.workspace()
        for (kernel, y) in Self.bothKernels({
            var y = [Float](repeating: .nan, count: expected.count)
            x.withUnsafeBufferPointer { xb in y.withUnsafeMutableBufferPointer { yb in
                layer.forward(xb.baseAddress!, rows: rows, frames: t, relu: true, into: yb.baseAddress!, input: .compact(t),
                              output: .compact(t), ws: ws, threads: 1)
            } }
            return y
        }) {
            #expect(y == expected, "\(kernel)")
        }
        // The same from and into padded planes (rows t + 2 apart, a zero column either side), as the front
        // module lays them out for the indirect fp32 kernel.
        let padded = PlaneLayout.padded(t)
        var xp = [Float](repeating: 0, count: cin * rows * padded.stride)
        for r in 0..<(cin * rows) { for j in 0..<t { xp[r * padded.stride + 1 + j] = x[r * t + j] } }
        var yp = [Float](repeating: .nan, count: cout * outRows * padded.stride)
        xp.withUnsafeBufferPointer { xb in yp.withUnsafeMutableBufferPointer { yb in
            layer.forward(xb.baseAddress!, rows: rows, frames: t, relu: true, into: yb.baseAddress!, input: padded, output: padded, ws: ws, threads: 1)
        } }
        for r in 0..<(cout * outRows) {
            #expect(Array(yp[(r * padded.stride + 1)..<(r * padded.stride + 1 + t)]) == Array(expected[(r * t)..<(r * t + t)]), "padded row \(r)")
            #expect(yp[r * padded.stride] == 0 && yp[r * padded.stride + t + 1] == 0, "padded row \(r): zero columns")
        }
    }

    @Test("strided TDNN layer: even and odd phases", arguments: [20, 21, 3])
    func stridedLayer(frames t: Int) {
        let cin = 10, cout = 5, kernel = 5
        let w = Self.weights(out: cout, channels: cin, taps: kernel, seed: UInt64(t))
        let layer = StridedConv1d(inChannels: cin, outChannels: cout, kernel: kernel, stride: 2, weight: AlignedBuffer(count: 0),
                                  bias: AlignedBuffer(count: 0), name: "test", int8: w.conv)
        let x = Self.input(cin * t, seed: 5), n = layer.outputFrames(t)
        let expected = Self.naive1d(w, x, inChannels: cin, kernel: kernel, inputFrames: t, outputFrames: n, relu: true) { j, k in 2 * j + k - 2 }
        let ws = Self.workspace()
        for (kernel, y) in Self.bothKernels({
            var y = [Float](repeating: .nan, count: expected.count)
            x.withUnsafeBufferPointer { xb in y.withUnsafeMutableBufferPointer { yb in
                layer.forwardInt8(w.conv, xb.baseAddress!, frames: t, into: yb.baseAddress!, scratch: ws.int8)
            } }
            return y
        }) {
            #expect(y == expected, "\(kernel), \(t) frames")
        }
    }

    @Test("pointwise with the BatchNorm-ReLU fused, writing over its own input", arguments: [false, true])
    func pointwiseFusesTheNorm(relu: Bool) throws {
        let cin = 11, cout = 6, n = 37
        let w = Self.weights(out: cout, channels: cin, taps: 1, seed: relu ? 1 : 2)
        var rng = SplitMix64(seed: 4)
        let norm = ChannelAffine(weight: (0..<cin).map { _ in rng.nextFloat() * 4 - 2 }, bias: (0..<cin).map { _ in rng.nextFloat() - 0.5 },
                                 runningMean: (0..<cin).map { _ in rng.nextFloat() - 0.5 }, runningVar: (0..<cin).map { _ in rng.nextFloat() + 0.5 },
                                 epsilon: 1e-5)
        let x = Self.input(cin * n, seed: 6)
        var expected = [Float](repeating: 0, count: cout * n)
        for o in 0..<cout {
            for j in 0..<n {
                var acc: Int32 = 0
                for c in 0..<cin {
                    let v = max(norm.shift.pointer[c].addingProduct(norm.scale.pointer[c], x[c * n + j]), 0)
                    acc += Self.q(v, w) * Int32(w.q[o * cin + c])
                }
                expected[o * n + j] = w.output(o, acc, relu: relu)
            }
        }
        let encoder = try CAMPPlusParityTests.smallEncoder(), ws = Self.workspace()
        for (kernel, y) in Self.bothKernels({
            var block = x   // the transit layer writes its output over its input
            block.withUnsafeMutableBufferPointer { b in
                encoder.pointwiseInt8(w.conv, b.baseAddress!, frames: n, norm: norm, relu: relu, into: b.baseAddress!, ws: ws)
            }
            return Array(block.prefix(cout * n))
        }) {
            #expect(y == expected, "\(kernel)")
        }
    }

    @Test("dilated local convolution with zero padding", arguments: [1, 2, 3])
    func dilatedLayer(dilation: Int) throws {
        let cin = 8, cout = 4, kernel = 3, n = 29, pad = dilation
        let w = Self.weights(out: cout, channels: cin, taps: kernel, seed: UInt64(40 + dilation))
        let x = Self.input(cin * n, seed: 7).map { max($0, 0) }   // a ReLU output
        let expected = Self.naive1d(w, x, inChannels: cin, kernel: kernel, inputFrames: n, outputFrames: n, relu: false) { j, k in
            j + k * dilation - pad
        }
        let encoder = try CAMPPlusParityTests.smallEncoder(), ws = Self.workspace()
        for (kernel, y) in Self.bothKernels({
            var y = [Float](repeating: .nan, count: expected.count)
            x.withUnsafeBufferPointer { xb in y.withUnsafeMutableBufferPointer { yb in
                encoder.dilatedInt8(w.conv, xb.baseAddress!, frames: n, kernel: kernel, dilation: dilation, into: yb.baseAddress!, ws: ws)
            } }
            return y
        }) {
            #expect(y == expected, "\(kernel), dilation \(dilation)")
        }
    }
}
