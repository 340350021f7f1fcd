import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Band-limited sample-rate converter: a Kaiser-windowed sinc evaluated through precomputed polyphase
/// tables, zero-phase (no delay: output sample `n` sits at time `n / outputRate` exactly), with output
/// length `round(n · outputRate / inputRate)`.
///
/// The rate ratio is reduced to `L/M` (output/input). When `L` is small enough the table holds one
/// row of taps per phase and the conversion is exact rational polyphase; otherwise it holds a finely
/// spaced set of phases and interpolates linearly between neighbouring rows (error below -100 dB).
///
/// Use `process(_:)` for a whole signal, or `push`/`finish` for a stream (live capture): the stream
/// delivers exactly the samples `process` would give for the concatenated input, `latency` input
/// samples late, with no allocation once the internal buffer has grown to chunk size.
public struct Resampler: Sendable {
    /// Filter design parameters, relative to the lower of the two Nyquist frequencies.
    public struct Design: Sendable, Equatable {
        /// Stop-band attenuation the Kaiser window is designed for, in dB.
        public var stopbandAttenuation: Double
        /// End of the pass band as a fraction of the lower Nyquist frequency.
        public var passbandEdge: Double
        /// Start of the stop band as a fraction of the lower Nyquist frequency.
        public var stopbandEdge: Double

        public init(stopbandAttenuation: Double = 90, passbandEdge: Double = 0.9, stopbandEdge: Double = 1.0) {
            self.stopbandAttenuation = stopbandAttenuation
            self.passbandEdge = passbandEdge
            self.stopbandEdge = stopbandEdge
        }
    }

    public let inputRate: Int
    public let outputRate: Int
    public let design: Design
    private let filter: PolyphaseFilter?  // nil: identity (equal rates)

    // Stream state: `history[0]` is input sample `historyStart` (negative indices are the zero
    // padding before the signal); `base`/`phase` locate output `emitted` at input time
    // `base + phase / L`.
    private var history: [Float] = []
    private var historyStart = 0
    private var emitted = 0
    private var base = 0
    private var phase = 0
    private var consumed = 0

    /// A converter from `inputRate` to `outputRate` Hz. Rates must be positive (validate file rates with
    /// `AudioFile.supportedSampleRates` first); equal rates give the identity.
    public init(inputRate: Int, outputRate: Int, design: Design = Design()) {
        precondition(inputRate > 0 && outputRate > 0,
                     "Resampler: rates must be positive, got \(inputRate) -> \(outputRate) Hz")
        precondition(design.stopbandAttenuation > 21 && design.passbandEdge > 0
                     && design.passbandEdge < design.stopbandEdge && design.stopbandEdge <= 2,
                     "Resampler: invalid design \(design)")
        self.inputRate = inputRate
        self.outputRate = outputRate
        self.design = design
        filter = inputRate == outputRate ? nil
            : PolyphaseFilter.shared(inputRate: inputRate, outputRate: outputRate, design: design)
        reset()
    }

    /// True when the rates are equal and samples pass through unchanged.
    public var isIdentity: Bool { filter == nil }
    /// Input samples spanned by the filter kernel (a multiple of 16; 0 for the identity).
    public var tapCount: Int { filter?.taps ?? 0 }
    /// True for exact rational polyphase, false when phases are interpolated.
    public var isExactPolyphase: Bool { filter?.isExact ?? true }
    /// How many input samples past an output sample's time must arrive before a stream emits it.
    public var latency: Int { (filter?.taps ?? 0) / 2 }
    /// Output/input rate ratio reduced to lowest terms, `(L, M)`.
    public var ratio: (up: Int, down: Int) {
        let g = gcd(inputRate, outputRate)
        return (outputRate / g, inputRate / g)
    }

    /// `round(inputCount · outputRate / inputRate)`, halves rounded up, without overflow.
    public func outputCount(forInputCount inputCount: Int) -> Int {
        let (l, m) = ratio
        return (inputCount / m) * l + ((inputCount % m) * 2 * l + m) / (2 * m)
    }

    /// Converts a whole signal (zero outside it); same result as a fresh stream's `push` + `finish`.
    public func process(_ x: [Float]) -> [Float] {
        if filter == nil { return x }
        var stream = self
        stream.reset()
        var out: [Float] = []
        out.reserveCapacity(outputCount(forInputCount: x.count))
        x.withUnsafeBufferPointer { stream.push($0, appendingTo: &out) }
        stream.finish(appendingTo: &out)
        return out
    }

    // MARK: - Streaming

    /// Feeds `input` and appends every output sample that is now complete to `output`.
    public mutating func push(_ input: UnsafeBufferPointer<Float>, appendingTo output: inout [Float]) {
        guard let filter else { output.append(contentsOf: input); return }
        history.append(contentsOf: input)
        consumed += input.count
        emit(filter, upTo: outputCount(forInputCount: consumed), into: &output)
    }

    /// Feeds `input` and returns the output samples that are now complete.
    public mutating func push(_ input: [Float]) -> [Float] {
        var out: [Float] = []
        input.withUnsafeBufferPointer { push($0, appendingTo: &out) }
        return out
    }

    /// Largest number of samples one `push` of `inputCount` samples can emit (for preallocation).
    public func maxOutputCount(forInputCount inputCount: Int) -> Int {
        let (l, m) = ratio
        return (inputCount * l + m - 1) / m + 1
    }

    /// Reserves the internal buffer for pushes of up to `chunkSize` samples, so that a stream fed such
    /// chunks never allocates (the caller reserves its output array with `maxOutputCount`).
    public mutating func reserveCapacity(chunkSize: Int) {
        history.reserveCapacity(tapCount + chunkSize + 16)
    }

    /// Ends the stream: the input is taken as zero after its end, the remaining output (up to
    /// `outputCount(forInputCount:)` of everything pushed) is appended, and the state is reset.
    public mutating func finish(appendingTo output: inout [Float]) {
        guard let filter else { return }
        let target = outputCount(forInputCount: consumed)
        if target > emitted {
            let (l, m) = (filter.up, filter.down)
            let lastBase = ((target - 1) / l) * m + ((target - 1) % l) * m / l
            let needed = lastBase + filter.taps / 2 + 1 - (historyStart + history.count)
            if needed > 0 { history.append(contentsOf: repeatElement(0, count: needed)) }
            emit(filter, upTo: target, into: &output)
        }
        reset()
    }

    /// Ends the stream and returns the remaining output (see `finish(appendingTo:)`).
    public mutating func finish() -> [Float] {
        var out: [Float] = []
        finish(appendingTo: &out)
        return out
    }

    /// Forgets all input: the next `push` starts a new signal at time 0.
    public mutating func reset() {
        let pad = max(0, (filter?.taps ?? 0) / 2 - 1)
        history.removeAll(keepingCapacity: true)
        history.append(contentsOf: repeatElement(0, count: pad))
        historyStart = -pad
        emitted = 0
        base = 0
        phase = 0
        consumed = 0
    }

    private mutating func emit(_ filter: PolyphaseFilter, upTo target: Int, into output: inout [Float]) {
        let taps = filter.taps, half = taps / 2
        let (l, m) = (filter.up, filter.down)
        let available = historyStart + history.count
        var n = emitted, b = base, p = phase
        history.withUnsafeBufferPointer { hist in
            filter.table.withUnsafeBufferPointer { table in
                let x = hist.baseAddress!, h = table.baseAddress!
                while n < target && b + half < available {
                    let xs = x + (b - half + 1 - historyStart)
                    if filter.isExact {
                        output.append(dot(xs, h + p * taps, taps))
                    } else {
                        let pos = Double(p) / Double(l) * Double(filter.rows - 1)
                        let r = Int(pos)
                        let a = Float(pos - Double(r))
                        let d0 = dot(xs, h + r * taps, taps)
                        let d1 = dot(xs, h + (r + 1) * taps, taps)
                        output.append(d0 + a * (d1 - d0))
                    }
                    n += 1
                    p += m
                    b += p / l
                    p %= l
                }
            }
        }
        emitted = n
        base = b
        phase = p
        let drop = min(b - half + 1 - historyStart, history.count)
        if drop > 0 {
            history.removeFirst(drop)
            historyStart += drop
        }
    }
}

/// Dot product of `count` floats (`count` a multiple of 16).
@inline(__always)
private func dot(_ x: UnsafePointer<Float>, _ h: UnsafePointer<Float>, _ count: Int) -> Float {
    let xr = UnsafeRawPointer(x), hr = UnsafeRawPointer(h)
    var a0 = SIMD16<Float>(), a1 = SIMD16<Float>()
    var i = 0
    while i &+ 32 <= count {
        a0 += xr.loadUnaligned(fromByteOffset: i &* 4, as: SIMD16<Float>.self)
            * hr.loadUnaligned(fromByteOffset: i &* 4, as: SIMD16<Float>.self)
        a1 += xr.loadUnaligned(fromByteOffset: (i &+ 16) &* 4, as: SIMD16<Float>.self)
            * hr.loadUnaligned(fromByteOffset: (i &+ 16) &* 4, as: SIMD16<Float>.self)
        i &+= 32
    }
    if i < count {
        a0 += xr.loadUnaligned(fromByteOffset: i &* 4, as: SIMD16<Float>.self)
            * hr.loadUnaligned(fromByteOffset: i &* 4, as: SIMD16<Float>.self)
    }
    return (a0 + a1).sum()
}

func gcd(_ a: Int, _ b: Int) -> Int {
    var (a, b) = (a, b)
    while b != 0 { (a, b) = (b, a % b) }
    return a
}

/// The immutable filter table, shared by copies of a `Resampler`.
final class PolyphaseFilter: Sendable {
    /// Reduced ratio: `up` = L (output), `down` = M (input).
    let up: Int
    let down: Int
    /// Taps per row (input samples under the kernel), a multiple of 16.
    let taps: Int
    /// Rows in `table`: `up` when exact; else a fine phase grid including both ends (0 and 1).
    let rows: Int
    let isExact: Bool
    /// `rows × taps`; row `r` holds kernel values for fractional input position `r / (rows or rows-1)`.
    let table: [Float]

    /// Largest exact table (L · taps floats) before switching to interpolated phases.
    static let maxExactTableSize = 1 << 20

    private struct Key: Hashable {
        let inputRate: Int, outputRate: Int, attenuation: Double, passband: Double, stopband: Double
    }
    /// Recently built tables: reading many files at the same rate designs the filter once.
    private static let cache = Mutex<[Key: PolyphaseFilter]>([:])
    private static let cacheLimit = 8

    static func shared(inputRate: Int, outputRate: Int, design: Design) -> PolyphaseFilter {
        let key = Key(inputRate: inputRate, outputRate: outputRate, attenuation: design.stopbandAttenuation,
                      passband: design.passbandEdge, stopband: design.stopbandEdge)
        if let filter = cache.withLock({ $0[key] }) { return filter }
        let filter = PolyphaseFilter(inputRate: inputRate, outputRate: outputRate, design: design)
        cache.withLock { cache in
            if cache.count >= cacheLimit { cache.removeAll() }
            cache[key] = filter
        }
        return filter
    }

    init(inputRate: Int, outputRate: Int, design: Design) {
        let g = gcd(inputRate, outputRate)
        up = outputRate / g
        down = inputRate / g

        // Everything in input-sample units: frequencies in cycles per input sample.
        let nyquist = 0.5 * Double(min(inputRate, outputRate)) / Double(inputRate)
        let passEdge = design.passbandEdge * nyquist
        let stopEdge = design.stopbandEdge * nyquist
        let cutoff = 0.5 * (passEdge + stopEdge)
        let attenuation = design.stopbandAttenuation
        let beta = attenuation > 50 ? 0.1102 * (attenuation - 8.7)
            : 0.5842 * pow(attenuation - 21, 0.4) + 0.07886 * (attenuation - 21)
        // Kaiser's length estimate, N - 1 = (A - 7.95) / (2.285 Δω), rounded up to a multiple of 16.
        let transition = 2 * Double.pi * (stopEdge - passEdge)
        let length = Int(((attenuation - 7.95) / (2.285 * transition)).rounded(.up)) + 1
        taps = max(16, (length + 15) / 16 * 16)

        isExact = up * taps <= Self.maxExactTableSize
        // Interpolated grid: ~1024 phases per kernel zero-crossing interval (1 / (2·cutoff)).
        rows = isExact ? up : min(4096, max(64, Int((2048 * cutoff).rounded(.up)))) + 1

        let halfWidth = Double(taps / 2)
        let i0Beta = besselI0(beta)
        let taps = taps, rows = rows, isExact = isExact
        func kernel(_ t: Double) -> Double {
            let u = t / halfWidth
            guard abs(u) <= 1 else { return 0 }
            let x = 2 * cutoff * t
            let sinc = x == 0 ? 1 : sin(Double.pi * x) / (Double.pi * x)
            return 2 * cutoff * sinc * besselI0(beta * (1 - u * u).squareRoot()) / i0Beta
        }
        var values = [Double](repeating: 0, count: rows * taps)
        let denominator = Double(isExact ? rows : rows - 1)
        for r in 0..<rows {
            let frac = Double(r) / denominator
            for j in 0..<taps { values[r * taps + j] = kernel(frac + halfWidth - 1 - Double(j)) }
        }
        // Unit DC gain on average over the phases (each row sums to 1 within the pass-band ripple).
        let phaseRows = isExact ? rows : rows - 1
        let dc = values[0..<(phaseRows * taps)].reduce(0, +) / Double(phaseRows)
        table = values.map { Float($0 / dc) }
    }

    typealias Design = Resampler.Design
}

/// Modified Bessel function of the first kind, order 0 (power series).
func besselI0(_ x: Double) -> Double {
    let q = x * x / 4
    var term = 1.0, sum = 1.0, k = 1.0
    while term > 1e-17 * sum {
        term *= q / (k * k)
        sum += term
        k += 1
    }
    return sum
}
