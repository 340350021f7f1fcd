import Foundation

/// A linear-phase low-pass FIR (windowed sinc, Kaiser window β = 8, 129 taps: about 80 dB stop band
/// and a transition of roughly ±250 Hz at 16 kHz), applied "same" length with the output aligned to
/// the input. Used to make wide-band training audio look like band-limited (e.g. 11025 Hz) speech.
public struct LowPassFilter: Sendable {
    public let taps: [Float]

    public init(cutoff: Double, sampleRate: Int, length: Int = 129, beta: Double = 8) {
        precondition(length % 2 == 1 && cutoff > 0 && cutoff < Double(sampleRate) / 2, "LowPassFilter: odd length, 0 < cutoff < Nyquist")
        let fc = cutoff / Double(sampleRate), m = Double(length - 1) / 2
        func bessel0(_ x: Double) -> Double {
            var sum = 1.0, term = 1.0
            for k in 1..<30 { term *= (x / (2 * Double(k))) * (x / (2 * Double(k))); sum += term }
            return sum
        }
        var h = (0..<length).map { i -> Double in
            let n = Double(i) - m
            let sinc = n == 0 ? 2 * fc : sin(2 * Double.pi * fc * n) / (Double.pi * n)
            let w = bessel0(beta * (1 - (n / m) * (n / m)).squareRoot()) / bessel0(beta)
            return sinc * w
        }
        let dc = h.reduce(0, +)
        h = h.map { $0 / dc }   // unit gain at 0 Hz
        taps = h.map(Float.init)
    }

    /// The filtered signal, same length (zeros assumed beyond both ends).
    public func apply(_ x: [Float]) -> [Float] {
        let half = taps.count / 2
        var y = [Float](repeating: 0, count: x.count)
        for t in 0..<x.count {
            var acc: Float = 0
            let lo = max(0, t - half), hi = min(x.count - 1, t + half)
            for i in lo...hi { acc += taps[i - t + half] * x[i] }
            y[t] = acc
        }
        return y
    }
}
