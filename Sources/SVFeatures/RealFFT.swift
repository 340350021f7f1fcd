import Foundation

/// Power (or magnitude) spectrum of real frames of even length n, 8 frames at a time.
///
/// Each of the 8 lanes of a `SIMD8<Double>` carries one frame, so every butterfly is one vector
/// operation and no shuffles are needed. The real transform packs z[j] = x[2j] + i·x[2j+1] into a
/// complex FFT of size n/2 (self-sorting Stockham, radices 4 and 2 unrolled, any other prime
/// factor — 5 for n_fft 400 — by a small direct DFT) and splits it with one twiddle pass.
/// Double precision keeps our error far below the float32 references' own (see README).
struct RealFFT: Sendable {
    typealias V = SIMD8<Double>
    static let lanes = 8

    struct Stage: Sendable {
        let radix: Int
        let l: Int          // length of the sub-transforms already done
        let rOut: Int       // n/2 / (l · radix)
        let twiddleRe: [Double], twiddleIm: [Double]   // [k · (radix − 1) + (q − 1)] = exp(−2πi·qk/(l·radix))
        let rootRe: [Double], rootIm: [Double]         // exp(−2πi·t/radix)
    }

    let n: Int
    let m: Int
    let stages: [Stage]
    let splitRe: [Double], splitIm: [Double]           // exp(−2πik/n), k in 0...m

    init(n: Int) {
        precondition(n >= 4 && n % 2 == 0, "RealFFT: n = \(n) must be even and ≥ 4")
        self.n = n
        m = n / 2
        var radices: [Int] = []
        var rest = m
        while rest % 4 == 0 { radices.append(4); rest /= 4 }
        while rest % 2 == 0 { radices.append(2); rest /= 2 }
        var p = 3
        while rest > 1 {
            while rest % p == 0 { radices.append(p); rest /= p }
            p += 2
        }
        var stages: [Stage] = []
        var l = 1
        for radix in radices {
            let span = l * radix
            var twRe: [Double] = [], twIm: [Double] = []
            for k in 0..<l {
                for q in 1..<radix {
                    let angle = -2 * Double.pi * Double(q * k) / Double(span)
                    twRe.append(cos(angle)); twIm.append(sin(angle))
                }
            }
            let roots = (0..<radix).map { -2 * Double.pi * Double($0) / Double(radix) }
            stages.append(Stage(radix: radix, l: l, rOut: m / span, twiddleRe: twRe, twiddleIm: twIm,
                                rootRe: roots.map(cos), rootIm: roots.map(sin)))
            l = span
        }
        self.stages = stages
        splitRe = (0...m).map { cos(-2 * Double.pi * Double($0) / Double(n)) }
        splitIm = (0...m).map { sin(-2 * Double.pi * Double($0) / Double(n)) }
    }

    /// Scratch: four arrays of m vectors (re/im, ping/pong).
    var scratchDoubles: Int { 4 * m * Self.lanes }

    /// Transforms the packed input in `re`/`im` (m vectors each; lane = frame) in place, using
    /// `tmpRe`/`tmpIm` as the other Stockham buffer. The result lands back in `re`/`im`.
    func complexForward(re: UnsafeMutablePointer<V>, im: UnsafeMutablePointer<V>,
                        tmpRe: UnsafeMutablePointer<V>, tmpIm: UnsafeMutablePointer<V>) {
        var srcRe = re, srcIm = im, dstRe = tmpRe, dstIm = tmpIm
        for stage in stages {
            runStage(stage, srcRe, srcIm, dstRe, dstIm)
            swap(&srcRe, &dstRe); swap(&srcIm, &dstIm)
        }
        if srcRe != re {
            re.update(from: srcRe, count: m)
            im.update(from: srcIm, count: m)
        }
    }

    // F'[k + l·j] (at (k + l·j)·r' + a) = Σ_q ω_p^{qj} · ω_{lp}^{qk} · F_q[k] (at k·r + a + r'·q)
    @inline(__always)
    private func runStage(_ s: Stage, _ xRe: UnsafeMutablePointer<V>, _ xIm: UnsafeMutablePointer<V>,
                          _ yRe: UnsafeMutablePointer<V>, _ yIm: UnsafeMutablePointer<V>) {
        let p = s.radix, l = s.l, rOut = s.rOut, r = rOut * p
        s.twiddleRe.withUnsafeBufferPointer { twRe in
        s.twiddleIm.withUnsafeBufferPointer { twIm in
            for k in 0..<l {
                let tw = k * (p - 1)
                let inBase = k * r
                switch p {
                case 2:
                    let w1r = V(repeating: twRe[tw]), w1i = V(repeating: twIm[tw])
                    for a in 0..<rOut {
                        let u0r = xRe[inBase + a], u0i = xIm[inBase + a]
                        let vr = xRe[inBase + a + rOut], vi = xIm[inBase + a + rOut]
                        let u1r = vr * w1r - vi * w1i, u1i = vr * w1i + vi * w1r
                        yRe[k * rOut + a] = u0r + u1r; yIm[k * rOut + a] = u0i + u1i
                        yRe[(k + l) * rOut + a] = u0r - u1r; yIm[(k + l) * rOut + a] = u0i - u1i
                    }
                case 4:
                    let w1r = V(repeating: twRe[tw]), w1i = V(repeating: twIm[tw])
                    let w2r = V(repeating: twRe[tw + 1]), w2i = V(repeating: twIm[tw + 1])
                    let w3r = V(repeating: twRe[tw + 2]), w3i = V(repeating: twIm[tw + 2])
                    for a in 0..<rOut {
                        let i0 = inBase + a
                        let u0r = xRe[i0], u0i = xIm[i0]
                        let v1r = xRe[i0 + rOut], v1i = xIm[i0 + rOut]
                        let v2r = xRe[i0 + 2 * rOut], v2i = xIm[i0 + 2 * rOut]
                        let v3r = xRe[i0 + 3 * rOut], v3i = xIm[i0 + 3 * rOut]
                        let u1r = v1r * w1r - v1i * w1i, u1i = v1r * w1i + v1i * w1r
                        let u2r = v2r * w2r - v2i * w2i, u2i = v2r * w2i + v2i * w2r
                        let u3r = v3r * w3r - v3i * w3i, u3i = v3r * w3i + v3i * w3r
                        let ar = u0r + u2r, ai = u0i + u2i, br = u0r - u2r, bi = u0i - u2i
                        let cr = u1r + u3r, ci = u1i + u3i, dr = u1r - u3r, di = u1i - u3i
                        yRe[k * rOut + a] = ar + cr; yIm[k * rOut + a] = ai + ci
                        yRe[(k + l) * rOut + a] = br + di; yIm[(k + l) * rOut + a] = bi - dr
                        yRe[(k + 2 * l) * rOut + a] = ar - cr; yIm[(k + 2 * l) * rOut + a] = ai - ci
                        yRe[(k + 3 * l) * rOut + a] = br - di; yIm[(k + 3 * l) * rOut + a] = bi + dr
                    }
                default:
                    generic(s, k: k, tw: tw, inBase: inBase, twRe: twRe, twIm: twIm,
                            xRe: xRe, xIm: xIm, yRe: yRe, yIm: yIm)
                }
            }
        }
        }
    }

    private func generic(_ s: Stage, k: Int, tw: Int, inBase: Int,
                         twRe: UnsafeBufferPointer<Double>, twIm: UnsafeBufferPointer<Double>,
                         xRe: UnsafeMutablePointer<V>, xIm: UnsafeMutablePointer<V>,
                         yRe: UnsafeMutablePointer<V>, yIm: UnsafeMutablePointer<V>) {
        let p = s.radix, l = s.l, rOut = s.rOut
        withUnsafeTemporaryAllocation(of: V.self, capacity: 2 * p) { u in
            for a in 0..<rOut {
                u[0] = xRe[inBase + a]; u[p] = xIm[inBase + a]
                for q in 1..<p {
                    let vr = xRe[inBase + a + q * rOut], vi = xIm[inBase + a + q * rOut]
                    let wr = V(repeating: twRe[tw + q - 1]), wi = V(repeating: twIm[tw + q - 1])
                    u[q] = vr * wr - vi * wi
                    u[p + q] = vr * wi + vi * wr
                }
                for j in 0..<p {
                    var sr = u[0], si = u[p]
                    for q in 1..<p {
                        let t = (q * j) % p
                        let cr = V(repeating: s.rootRe[t]), ci = V(repeating: s.rootIm[t])
                        sr += u[q] * cr - u[p + q] * ci
                        si += u[q] * ci + u[p + q] * cr
                    }
                    yRe[(k + l * j) * rOut + a] = sr
                    yIm[(k + l * j) * rOut + a] = si
                }
            }
        }
    }

    /// From the complex transform Z of the packed frames, writes |X[k]|^power for k in 0...m of
    /// each lane `lane < validLanes` to `out[lane · stride + k]` (Float).
    func spectrum(re: UnsafeMutablePointer<V>, im: UnsafeMutablePointer<V>, power: Int,
                  validLanes: Int, out: UnsafeMutablePointer<Float>, stride: Int) {
        let half = V(repeating: 0.5)
        for k in 0...m {
            let zk = k % m, zc = (m - k) % m
            let ar = re[zk], ai = im[zk], br = re[zc], bi = -im[zc]     // Z[k], conj(Z[m−k])
            let er = (ar + br) * half, ei = (ai + bi) * half          // even samples' DFT
            let or = (ai - bi) * half, oi = (br - ar) * half          // odd samples' DFT: (Z − Z*)/2i
            let wr = V(repeating: splitRe[k]), wi = V(repeating: splitIm[k])
            let xr = er + or * wr - oi * wi, xi = ei + or * wi + oi * wr
            var p = xr * xr + xi * xi
            if power == 1 { p = p.squareRoot() }
            for lane in 0..<validLanes { out[lane * stride + k] = Float(p[lane]) }
        }
    }
}
