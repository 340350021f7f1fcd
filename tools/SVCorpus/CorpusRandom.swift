import Foundation
import SVKernels

/// Deterministic draws for the corpus recipe. Every stream is keyed by the corpus seed plus a label
/// and integer coordinates (split, speaker, recording, utterance, attempt), so a value never depends on
/// the order in which workers happen to reach it.
public struct CorpusRandom: RandomNumberGenerator, Sendable {
    private var generator: SplitMix64

    /// A stream for `(seed, label, keys...)`.
    public init(seed: UInt64, _ label: String, _ keys: Int...) {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325  // FNV-1a over the label
        for byte in label.utf8 { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        h = Self.mix(h ^ Self.mix(seed))
        for k in keys { h = Self.mix(h ^ Self.mix(UInt64(bitPattern: Int64(k)) &+ 0x632B_E59B_D9B4_E019)) }
        generator = SplitMix64(seed: h)
    }

    private static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func next() -> UInt64 { generator.next() }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }
    /// Uniform in [a, b).
    public mutating func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * unit() }
    /// Uniform integer in the closed range.
    public mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
    /// True with probability `p`.
    public mutating func bernoulli(_ p: Double) -> Bool { unit() < p }
    /// Gaussian N(mean, sd) by Box–Muller.
    public mutating func normal(_ mean: Double = 0, _ sd: Double = 1) -> Double {
        let u1 = max(unit(), 0x1p-60), u2 = unit()
        return mean + sd * (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
    /// One element, uniformly.
    public mutating func choice<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &self)] }
    /// `count` distinct indices of `0..<n` (fewer when n is smaller), in draw order.
    public mutating func distinct(_ count: Int, of n: Int) -> [Int] {
        var pool = Array(0..<n)
        var out: [Int] = []
        for _ in 0..<min(count, n) { out.append(pool.remove(at: Int.random(in: 0..<pool.count, using: &self))) }
        return out
    }
}

/// Rounds to `digits` decimals so that the value written to the manifest is the value applied.
@inlinable func rounded(_ x: Double, _ digits: Int = 3) -> Double {
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    return (x * p).rounded() / p
}

