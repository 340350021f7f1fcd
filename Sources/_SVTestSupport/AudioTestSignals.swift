import Foundation

/// Test signals and measurements for audio tests: tones, least-squares tone fits, RMS in dB, a
/// seeded generator and hand-built WAV bytes (for files a correct writer would refuse to produce).
public enum AudioTestSignals {
    /// `amplitude · sin(2π f n / rate + phase)` for n in 0..<count, computed in Double.
    public static func tone(frequency: Double, sampleRate: Int, count: Int,
                            amplitude: Double = 1, phase: Double = 0) -> [Float] {
        let w = 2 * Double.pi * frequency / Double(sampleRate)
        return (0..<count).map { Float(amplitude * sin(w * Double($0) + phase)) }
    }

    /// Least-squares fit of `a·sin(2π f n / rate + φ)` to `x[range]` (n is the absolute index).
    /// Returns the amplitude, the phase and the RMS of what the tone does not explain.
    public static func fitTone(_ x: [Float], frequency: Double, sampleRate: Int,
                               range: Range<Int>) -> (amplitude: Double, phase: Double, residualRMS: Double) {
        let w = 2 * Double.pi * frequency / Double(sampleRate)
        var ss = 0.0, cc = 0.0, sc = 0.0, xs = 0.0, xc = 0.0
        for n in range {
            let s = sin(w * Double(n)), c = cos(w * Double(n)), v = Double(x[n])
            ss += s * s; cc += c * c; sc += s * c; xs += v * s; xc += v * c
        }
        let det = ss * cc - sc * sc
        let p = (xs * cc - xc * sc) / det  // coefficient of sin
        let q = (xc * ss - xs * sc) / det  // coefficient of cos
        var residual = 0.0
        for n in range {
            let r = Double(x[n]) - p * sin(w * Double(n)) - q * cos(w * Double(n))
            residual += r * r
        }
        return ((p * p + q * q).squareRoot(), atan2(q, p), (residual / Double(range.count)).squareRoot())
    }

    /// Root mean square of `x[range]` in Double.
    public static func rms(_ x: [Float], range: Range<Int>? = nil) -> Double {
        let r = range ?? x.indices
        guard !r.isEmpty else { return 0 }
        return (r.reduce(0.0) { $0 + Double(x[$1]) * Double(x[$1]) } / Double(r.count)).squareRoot()
    }

    /// `20 log10(value / reference)`.
    public static func decibels(_ value: Double, relativeTo reference: Double) -> Double {
        20 * log10(value / reference)
    }

    /// Bytes of a RIFF/WAVE file, with an optional lying `data` size (for truncation/garbage tests).
    /// `formatTag` 1 is integer PCM, 3 is IEEE float.
    public static func wavBytes(formatTag: UInt16, channels: UInt16, sampleRate: UInt32, bitsPerSample: UInt16,
                                data: [UInt8], declaredDataSize: UInt32? = nil) -> [UInt8] {
        var b: [UInt8] = []
        func u16(_ v: UInt16) { b += [UInt8(v & 0xFF), UInt8(v >> 8)] }
        func u32(_ v: UInt32) { b += (0..<4).map { UInt8((v >> (8 * UInt32($0))) & 0xFF) } }
        let blockAlign = channels * (bitsPerSample / 8)
        b += Array("RIFF".utf8); u32(UInt32(36 + data.count)); b += Array("WAVE".utf8)
        b += Array("fmt ".utf8); u32(16); u16(formatTag); u16(channels); u32(sampleRate)
        u32(sampleRate * UInt32(blockAlign)); u16(blockAlign); u16(bitsPerSample)
        b += Array("data".utf8); u32(declaredDataSize ?? UInt32(data.count)); b += data
        return b
    }

    /// Little-endian bytes of 32-bit floats.
    public static func floatBytes(_ x: [Float]) -> [UInt8] {
        x.flatMap { v -> [UInt8] in let u = v.bitPattern; return (0..<4).map { UInt8((u >> (8 * UInt32($0))) & 0xFF) } }
    }
}
