import Foundation

/// A shoebox room for one recording (CORPUS.md §2.3): dimensions, RT60, source and microphone.
public struct RoomSpec: Codable, Equatable, Sendable {
    public var dimensions: [Double]
    public var rt60: Double
    public var source: [Double]
    public var microphone: [Double]
    public var distance: Double

    /// 3–12 × 3–10 × 2.4–4 m, RT60 U(0.15, 1.0) s, source–mic distance U(0.3, 3) m, both ≥ 0.5 m
    /// from every wall (the distance shrinks when the room is too small for it).
    public static func draw(_ r: inout CorpusRandom) -> RoomSpec {
        let dims = [rounded(r.uniform(3, 12), 2), rounded(r.uniform(3, 10), 2), rounded(r.uniform(2.4, 4), 2)]
        let rt60 = rounded(r.uniform(0.15, 1.0))
        let margin = 0.5
        let mic = dims.map { rounded(r.uniform(margin, $0 - margin), 2) }
        var distance = r.uniform(0.3, 3)
        // Direction uniform on the sphere, flattened towards the horizontal like a talker.
        let azimuth = r.uniform(0, 2 * Double.pi), elevation = r.uniform(-0.3, 0.3)
        let direction = [cos(elevation) * cos(azimuth), cos(elevation) * sin(azimuth), sin(elevation)]
        var source = mic
        for _ in 0..<40 {
            source = (0..<3).map { rounded(mic[$0] + distance * direction[$0], 2) }
            if (0..<3).allSatisfy({ source[$0] >= margin && source[$0] <= dims[$0] - margin }) { break }
            distance *= 0.9
        }
        source = (0..<3).map { min(max(source[$0], margin), dims[$0] - margin) }
        var d2 = 0.0
        for a in 0..<3 { let diff: Double = source[a] - mic[a]; d2 += diff * diff }
        let d = d2.squareRoot()
        return RoomSpec(dimensions: dims, rt60: rt60, source: source, microphone: mic, distance: rounded(max(d, 0.05), 3))
    }
}

/// Room impulse responses simulated in Swift (pyroomacoustics is Python and not used at generation time).
///
/// Hybrid model: an image-source shoebox model (Allen & Berkley) up to reflection order
/// `imageOrder` (1: the six first-order wall reflections; higher orders made the T20 decay of
/// large rooms with a close microphone drift from the drawn RT60) gives the direct path and early reflections, with the wall reflection coefficient
/// from Sabine's formula for the room's RT60; from the mixing time on, a Gaussian noise tail decaying
/// by 60 dB per RT60 continues the energy level of the early part. The response starts at the direct
/// path (propagation delay removed), is truncated where it has decayed by 60 dB, and has unit energy.
public enum RoomImpulseResponse {
    public static let speedOfSound = 343.0
    public static let imageOrder = 1

    public static func generate(_ room: RoomSpec, sampleRate: Int = 16_000, seed: UInt64) -> [Float] {
        let fs = Double(sampleRate)
        let L = room.dimensions
        let volume = L[0] * L[1] * L[2]
        let surface = 2 * (L[0] * L[1] + L[0] * L[2] + L[1] * L[2])
        let alpha = min(0.99, 0.161 * volume / (surface * room.rt60))
        let beta = sqrt(1 - alpha)
        let length = Int(room.rt60 * fs) + 1
        var h = [Double](repeating: 0, count: length)
        let directDistance = max(room.distance, 0.05)
        let n = imageOrder
        // Images: position (1-2p)·s + 2m·L per axis, p ∈ {0,1}, m ∈ [-n, n].
        for mx in -n...n { for my in -n...n { for mz in -n...n {
            for px in 0...1 { for py in 0...1 { for pz in 0...1 {
                let reflections = abs(2 * mx - px) + abs(2 * my - py) + abs(2 * mz - pz)
                if reflections > n { continue }
                let m = [mx, my, mz], p = [px, py, pz]
                var d2 = 0.0
                for a in 0..<3 {
                    let image = Double(1 - 2 * p[a]) * room.source[a] + 2 * Double(m[a]) * L[a]
                    d2 += (image - room.microphone[a]) * (image - room.microphone[a])
                }
                let d = max(sqrt(d2), 0.05)
                let delay = (d - directDistance) / speedOfSound * fs
                let index = Int(delay.rounded())
                guard index >= 0, index < length else { continue }
                h[index] += pow(beta, Double(reflections)) * directDistance / d
            }}}
        }}}
        // Late tail from the mixing time: the early part's energy density there, decaying 60 dB per RT60.
        let orderTime = Double(n) * min(L[0], min(L[1], L[2])) / speedOfSound
        let mixing = min(max(Int(orderTime * fs), Int(0.01 * fs)), length - 1)
        let window = max(Int(0.005 * fs), 1)
        let start = max(1, mixing - window)
        var early = 0.0
        for i in start..<mixing { early += h[i] * h[i] }
        var density = early / Double(max(mixing - start, 1))
        if density <= 0 {  // no reflection fell in the window: fall back to the diffuse-field estimate
            density = alpha < 0.99 ? (1 - alpha) / (surface * alpha) * 0.05 : 1e-6
        }
        let decay = 6.907755 / (room.rt60 * fs)  // ln(1000): amplitude −60 dB after RT60
        var r = CorpusRandom(seed: seed, "rir-tail")
        let startEnvelope = exp(-decay * Double(mixing))
        for i in mixing..<length {
            let envelope = exp(-decay * Double(i)) / startEnvelope
            h[i] += sqrt(density) * envelope * r.normal()
        }
        let energy = h.reduce(0) { $0 + $1 * $1 }
        let scale = energy > 0 ? 1 / sqrt(energy) : 1
        return h.map { Float($0 * scale) }
    }

    /// RT60 estimated from the Schroeder backward integral: the −5 … −25 dB slope (T20) extrapolated to 60 dB.
    public static func estimateRT60(_ h: [Float], sampleRate: Int = 16_000) -> Double {
        var edc = [Double](repeating: 0, count: h.count)
        var acc = 0.0
        for i in stride(from: h.count - 1, through: 0, by: -1) { acc += Double(h[i]) * Double(h[i]); edc[i] = acc }
        guard acc > 0 else { return 0 }
        var xs: [Double] = [], ys: [Double] = []
        for i in 0..<h.count {
            let db = 10 * log10(max(edc[i] / acc, 1e-30))
            if db <= -5 && db >= -25 { xs.append(Double(i) / Double(sampleRate)); ys.append(db) }
        }
        guard xs.count > 2 else { return 0 }
        let mx = xs.reduce(0, +) / Double(xs.count), my = ys.reduce(0, +) / Double(ys.count)
        var sxy = 0.0, sxx = 0.0
        for k in 0..<xs.count { sxy += (xs[k] - mx) * (ys[k] - my); sxx += (xs[k] - mx) * (xs[k] - mx) }
        let slope = sxy / sxx  // dB per second, negative
        return slope < 0 ? -60 / slope : 0
    }
}
