import Foundation

/// Small signal operations the generator needs: FFT convolution, silence trimming, levels.
public enum SignalOps {
    /// In-place iterative radix-2 FFT (`inverse` without the 1/n scaling). `re.count` must be a power of two.
    static func fft(_ re: inout [Double], _ im: inout [Double], inverse: Bool) {
        let n = re.count
        precondition(n > 0 && n & (n - 1) == 0 && im.count == n, "fft length \(n) is not a power of two")
        re.withUnsafeMutableBufferPointer { rp in
            im.withUnsafeMutableBufferPointer { ip in
                guard let re = rp.baseAddress, let im = ip.baseAddress else { return }
                fft(re, im, n, inverse: inverse)
            }
        }
    }

    private static func fft(_ re: UnsafeMutablePointer<Double>, _ im: UnsafeMutablePointer<Double>, _ n: Int, inverse: Bool) {
        var j = 0
        for i in 1..<max(n, 1) {
            var bit = n >> 1
            while j & bit != 0 { j ^= bit; bit >>= 1 }
            j |= bit
            if i < j { swap(&re[i], &re[j]); swap(&im[i], &im[j]) }
        }
        var len = 2
        while len <= n {
            let half = len / 2
            let angle = (inverse ? 2 : -2) * Double.pi / Double(len)
            let wr = cos(angle), wi = sin(angle)
            var start = 0
            while start < n {
                var cr = 1.0, ci = 0.0
                for k in 0..<half {
                    let a = start + k, b = a + half
                    let tr = re[b] * cr - im[b] * ci, ti = re[b] * ci + im[b] * cr
                    re[b] = re[a] - tr; im[b] = im[a] - ti
                    re[a] += tr; im[a] += ti
                    let nr = cr * wr - ci * wi
                    ci = cr * wi + ci * wr; cr = nr
                }
                start += len
            }
            len <<= 1
        }
    }

    /// Full linear convolution of `x` and `h`, truncated to `x.count` samples.
    public static func convolveTruncated(_ x: [Float], _ h: [Float]) -> [Float] {
        guard !x.isEmpty, !h.isEmpty else { return x }
        let full = x.count + h.count - 1
        var n = 1
        while n < full { n <<= 1 }
        var ar = [Double](repeating: 0, count: n), ai = ar, br = ar, bi = ar
        for i in 0..<x.count { ar[i] = Double(x[i]) }
        for i in 0..<h.count { br[i] = Double(h[i]) }
        fft(&ar, &ai, inverse: false)
        fft(&br, &bi, inverse: false)
        for k in 0..<n {
            let r = ar[k] * br[k] - ai[k] * bi[k], i = ar[k] * bi[k] + ai[k] * br[k]
            ar[k] = r; ai[k] = i
        }
        fft(&ar, &ai, inverse: true)
        return (0..<x.count).map { Float(ar[$0] / Double(n)) }
    }

    /// Removes leading and trailing silence: 10 ms frames more than `thresholdDB` below the loudest frame,
    /// keeping `marginSeconds` of context on each side.
    public static func trimSilence(_ x: [Float], sampleRate: Int = 16_000, thresholdDB: Double = -40,
                                   marginSeconds: Double = 0.1) -> [Float] {
        let frame = sampleRate / 100
        guard x.count > frame else { return x }
        let frames = x.count / frame
        var energy = [Double](repeating: 0, count: frames)
        for f in 0..<frames {
            var e = 0.0
            for i in (f * frame)..<((f + 1) * frame) { e += Double(x[i]) * Double(x[i]) }
            energy[f] = e / Double(frame)
        }
        let peak = energy.max() ?? 0
        guard peak > 0 else { return x }
        let floor = peak * pow(10, thresholdDB / 10)
        guard let first = energy.firstIndex(where: { $0 > floor }), let last = energy.lastIndex(where: { $0 > floor })
        else { return x }
        let margin = Int(marginSeconds * Double(sampleRate))
        let a = max(0, first * frame - margin), b = min(x.count, (last + 1) * frame + margin)
        return Array(x[a..<b])
    }

    public static func peak(_ x: [Float]) -> Float { x.reduce(0) { max($0, abs($1)) } }

    /// Scales so that the peak is `dBFS`.
    public static func normalizePeak(_ x: [Float], dBFS: Double) -> [Float] {
        let p = peak(x)
        guard p > 0 else { return x }
        let g = Float(pow(10, dBFS / 20)) / p
        return x.map { $0 * g }
    }

    /// Soft clipping: normalise to full scale, drive by `driveDB`, tanh, and back to −0.2 dBFS peak.
    public static func softClip(_ x: [Float], driveDB: Double) -> [Float] {
        let g = Float(pow(10, driveDB / 20))
        let y = normalizePeak(x, dBFS: 0).map { tanh($0 * g) }
        return normalizePeak(y, dBFS: -0.2)
    }

    /// Cuts or zero-pads to `count` samples.
    public static func fit(_ x: [Float], count: Int) -> [Float] {
        x.count >= count ? Array(x[0..<count]) : x + [Float](repeating: 0, count: count - x.count)
    }

    /// A short linear fade-out at the end (for cuts mid-speech).
    public static func fadeOut(_ x: [Float], samples: Int) -> [Float] {
        var y = x
        let n = min(samples, y.count)
        for k in 0..<n { y[y.count - n + k] *= Float(n - k) / Float(n) }
        return y
    }
}
