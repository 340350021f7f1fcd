import CInt8Kernels

/// A convolution's int8 weights for the indirect kernel (`spkv_q8_gemm_indirect`): the input is
/// quantised once into channel-interleaved runs (`Int8Activations`), and each tap of the kernel reads
/// such a run at an offset through a pointer ("panel"), so no im2col copy is made, for 1-D, strided and
/// 2-D convolutions alike. Row m holds `taps × channelGroups` groups of 4 weights, tap-major: group
/// tap·channelGroups + g is channels 4g…4g+3 of that tap (zero beyond `inChannels`). Immutable, shareable.
public final class Int8IndirectConv: @unchecked Sendable {
    public let outChannels: Int, inChannels: Int, taps: Int
    /// ⌈inChannels / 4⌉: the channel runs of one tap.
    public let channelGroups: Int
    /// Static per-tensor scale of the input activations.
    public let inputScale: Float
    /// How the input is stored: 128 for signed int8 (q + 128), 0 for unsigned (q in [0, 255], inputs
    /// that are never negative, such as ReLU outputs: twice the resolution for the same range).
    public let inputZeroPoint: Int
    let rows: UnsafeMutablePointer<Int8>
    let compensation: UnsafeMutablePointer<Int32>
    /// weightScale[m] · foldScale[m] · inputScale: the dequantisation factor of output row m.
    let outputScale: UnsafeMutablePointer<Float>
    let bias: UnsafeMutablePointer<Float>?

    /// Panels (pointers) one call reads: one per group of 4 weights.
    public var groups: Int { taps * channelGroups }

    /// - Parameters:
    ///   - weights: int8 (out, in, taps) row-major — PyTorch's order for Conv1d (out, in, k) and, with
    ///     taps = kh·kw, for Conv2d (out, in, kh, kw).
    ///   - weightScale: per output channel, w ≈ weightScale[m]·q.
    ///   - foldScale: a per-output-channel factor applied after the sum (a BatchNorm folded in); nil is 1.
    ///   - bias: added after scaling (the folded BatchNorm's shift); nil is 0.
    ///   - unsignedInput: the input is quantised to [0, 255] (zero point 0) instead of [−128, 127].
    public init(outChannels: Int, inChannels: Int, taps: Int, weights: [Int8], weightScale: [Float], inputScale: Float,
                foldScale: [Float]? = nil, bias: [Float]? = nil, unsignedInput: Bool = false) {
        precondition(weights.count == outChannels * inChannels * taps && weightScale.count == outChannels
                     && (foldScale?.count ?? outChannels) == outChannels && (bias?.count ?? outChannels) == outChannels,
                     "Int8IndirectConv: \(weights.count) weights / \(weightScale.count) scales for (\(outChannels), \(inChannels), \(taps))")
        precondition(inputScale > 0 && inputScale.isFinite, "Int8IndirectConv: input scale must be positive")
        self.outChannels = outChannels; self.inChannels = inChannels; self.taps = taps
        channelGroups = (inChannels + 3) / 4
        self.inputScale = inputScale
        inputZeroPoint = unsignedInput ? 0 : 128
        let rowLength = taps * channelGroups * 4
        rows = .allocate(capacity: outChannels * rowLength)
        rows.initialize(repeating: 0, count: outChannels * rowLength)
        compensation = .allocate(capacity: outChannels)
        outputScale = .allocate(capacity: outChannels)
        for m in 0..<outChannels {
            var sum: Int32 = 0
            for c in 0..<inChannels {
                for tap in 0..<taps {
                    let w = weights[(m * inChannels + c) * taps + tap]
                    rows[m * rowLength + tap * channelGroups * 4 + c] = w
                    sum += Int32(w)
                }
            }
            compensation[m] = Int32(inputZeroPoint) * sum
            outputScale[m] = weightScale[m] * (foldScale?[m] ?? 1) * inputScale
        }
        if let bias {
            let b = UnsafeMutablePointer<Float>.allocate(capacity: outChannels)
            b.initialize(from: bias, count: outChannels)
            self.bias = b
        } else {
            self.bias = nil
        }
    }

    deinit {
        rows.deallocate(); compensation.deallocate(); outputScale.deallocate(); bias?.deallocate()
    }

    /// Quantises this layer's input (see `Int8Activations.interleave`) with its scale and zero point.
    public func interleave(_ x: UnsafePointer<Float>, channelStride: Int, frames: Int, frameStep: Int = 1,
                           scale: UnsafePointer<Float>? = nil, shift: UnsafePointer<Float>? = nil, relu: Bool = false,
                           margin: Int, width: Int, into out: UnsafeMutablePointer<UInt8>) {
        Int8Activations.interleave(x, channels: inChannels, channelStride: channelStride, frames: frames, frameStep: frameStep,
                                   scale: scale, shift: shift, relu: relu, inverseScale: 1 / inputScale, zeroPoint: inputZeroPoint,
                                   margin: margin, width: width, into: out)
    }

    /// y[m][t] (row stride `ldy`) for t < frames, from `groups` panels (see `Int8Activations.panel`),
    /// then max(·, 0) when `relu`.
    public func gemm(panels: UnsafePointer<UnsafePointer<UInt8>?>, frames: Int, relu: Bool,
                     into y: UnsafeMutablePointer<Float>, ldy: Int) {
        spkv_q8_gemm_indirect(rows, compensation, Int32(outChannels), Int32(groups), panels, Int32(frames), outputScale,
                              bias, relu ? 1 : 0, y, Int32(ldy))
    }
}

/// Quantised activations in the channel-interleaved layout the indirect kernel reads: channels in
/// groups of 4, each group a run of `width` columns of 4 bytes (q + zero point), the data at columns
/// margin…margin+frames−1 and the zero point around it (so a tap may read past either edge).
public enum Int8Activations {
    /// Columns the kernel may read from a panel for `frames` output frames (a multiple of 16).
    public static func paddedFrames(_ frames: Int) -> Int { Int(spkv_q8_tp(Int32(frames))) }

    /// Bytes of `channels` interleaved runs of `width` columns.
    public static func byteCount(channels: Int, width: Int) -> Int { (channels + 3) / 4 * width * 4 }

    /// Quantises x[c·channelStride + t·frameStep] (c < channels, t < frames) with static scale
    /// 1/`inverseScale`, after the per-channel affine map `scale`·x + `shift` and a ReLU when given;
    /// zero point 128 stores signed int8 + 128, 0 stores unsigned values in [0, 255].
    public static func interleave(_ x: UnsafePointer<Float>, channels: Int, channelStride: Int, frames: Int, frameStep: Int = 1,
                                  scale: UnsafePointer<Float>? = nil, shift: UnsafePointer<Float>? = nil, relu: Bool = false,
                                  inverseScale: Float, zeroPoint: Int = 128, margin: Int, width: Int,
                                  into out: UnsafeMutablePointer<UInt8>) {
        precondition(zeroPoint == 0 || zeroPoint == 128, "Int8Activations.interleave: zero point \(zeroPoint) (0 or 128)")
        precondition((scale == nil) == (shift == nil), "Int8Activations.interleave: scale and shift come together")
        precondition(margin >= 0 && margin + frames <= width, "Int8Activations.interleave: \(frames) frames + margin \(margin) exceed width \(width)")
        spkv_q8_interleave(x, Int32(channels), Int32(channelStride), Int32(frames), Int32(frameStep), scale, shift, relu ? 1 : 0,
                           inverseScale, Int32(zeroPoint), Int32(margin), Int32(width), out)
    }

    /// The panel of channel group `group` read from column `column` on (a tap's offset into the run).
    @inline(__always)
    public static func panel(_ runs: UnsafePointer<UInt8>, group: Int, width: Int, column: Int) -> UnsafePointer<UInt8> {
        runs + (group * width + column) * 4
    }
}

/// Grow-only scratch for the int8 path: interleaved activations, the panel pointers of one call, and
/// runs of each zero point (0 and 128) that panels of padding rows (2-D convolutions) point to.
/// Not thread-safe.
public final class Int8Scratch: @unchecked Sendable {
    public private(set) var bytes: UnsafeMutablePointer<UInt8>
    public private(set) var panels: UnsafeMutablePointer<UnsafePointer<UInt8>?>
    /// zeroBytes bytes of 128, then zeroBytes bytes of 0.
    private var zeroRuns: UnsafeMutablePointer<UInt8>
    private var byteCapacity = 0, panelCapacity = 0, zeroCapacity = 0

    public init() {
        bytes = .allocate(capacity: 0); panels = .allocate(capacity: 0); zeroRuns = .allocate(capacity: 0)
    }

    deinit { bytes.deallocate(); panels.deallocate(); zeroRuns.deallocate() }

    /// A run of `zeroPoint` bytes (the `zeroBytes` reserved): what a padding row reads.
    public func zeroRun(zeroPoint: Int) -> UnsafePointer<UInt8> { UnsafePointer(zeroRuns + (zeroPoint == 0 ? zeroCapacity : 0)) }

    /// Memory held, for reports.
    public var byteCount: Int { byteCapacity + 2 * zeroCapacity + panelCapacity * MemoryLayout<UnsafePointer<UInt8>?>.stride }

    /// Makes room for `byteCount` activation bytes, `panelCount` pointers and a zero run of `zeroBytes`.
    public func reserve(byteCount: Int, panelCount: Int, zeroBytes: Int) {
        if byteCount > byteCapacity {
            bytes.deallocate()
            bytes = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64).bindMemory(to: UInt8.self, capacity: byteCount)
            byteCapacity = byteCount
        }
        if panelCount > panelCapacity {
            panels.deallocate()
            panels = .allocate(capacity: panelCount)
            panels.initialize(repeating: nil, count: panelCount)
            panelCapacity = panelCount
        }
        if zeroBytes > zeroCapacity {
            zeroRuns.deallocate()
            zeroRuns = .allocate(capacity: 2 * zeroBytes)
            zeroRuns.initialize(repeating: 128, count: zeroBytes)
            (zeroRuns + zeroBytes).initialize(repeating: 0, count: zeroBytes)
            zeroCapacity = zeroBytes
        }
    }
}
