import SVKernels

/// Adaptive symmetric score normalisation (AS-norm) against a cohort of impostor embeddings.
///
/// Definition (WeSpeaker `wespeaker/bin/score_norm.py`, `get_mean_std` and the normed score, at
/// wenet-e2e/wespeaker@dfa7419): embeddings and cohort are length-normalised; each side's cosine
/// scores against the whole cohort are sorted and the `topN` highest kept; μ is their mean and σ
/// their *population* standard deviation (`np.std`, divide by N); the normalised score is
/// `s' = ((s − μ_e)/σ_e + (s − μ_t)/σ_t) / 2`, with top-N chosen separately for enroll and test.
///
/// SpeechBrain's recipe (`recipes/VoxCeleb/SpeakerRec/speaker_verification_cosine.py`,
/// speechbrain@9c826ef, `s-norm` with `cohort_size`) is the same top-N-per-side, symmetric average,
/// but σ is `torch.std`, the *unbiased* (N − 1) standard deviation, so its σ is larger by
/// √(N/(N−1)) and its normalised scores smaller by that factor (0.17 % at N = 300): a monotone
/// rescaling, so EER/minDCF agree but raw values and calibration do not. We follow WeSpeaker.
/// WeSpeaker silently uses the whole cohort when `top_n` exceeds it; we reject it instead (see
/// `init`). WeSpeaker can also subtract a mean vector before scoring; that is the caller's choice.
public struct ASNorm: Sendable {
    /// Cohort embeddings, length-normalised, row-major (cohortSize, dimension).
    private let cohort: [Float]
    public let cohortSize: Int
    public let dimension: Int
    public let topN: Int

    /// Length-normalises the cohort once.
    ///
    /// Errors: an empty cohort; embeddings of different lengths; a zero, non-finite or empty
    /// embedding; `topN < 2` (one score has σ = 0) or `topN > cohort.count` (rejected rather than
    /// clamped, so that a too-small cohort file is noticed instead of silently becoming S-norm).
    public init(cohort: [[Float]], topN: Int) throws(ASNormError) {
        guard let first = cohort.first else { throw .emptyCohort }
        let d = first.count
        guard d > 0 else { throw .badCohortEmbedding(index: 0, reason: "it is empty") }
        guard topN >= 2, topN <= cohort.count else { throw .invalidTopN(topN: topN, cohortSize: cohort.count) }
        var flat: [Float] = []
        flat.reserveCapacity(cohort.count * d)
        for (i, e) in cohort.enumerated() {
            guard e.count == d else { throw .dimensionMismatch(index: i, expected: d, actual: e.count) }
            guard e.allSatisfy(\.isFinite) else { throw .badCohortEmbedding(index: i, reason: "it holds a non-finite value") }
            let norm = e.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            guard norm > 0 else { throw .badCohortEmbedding(index: i, reason: "it is all zeros") }
            for x in e { flat.append(Float(Double(x) / norm)) }
        }
        self.cohort = flat
        self.cohortSize = cohort.count
        self.dimension = d
        self.topN = topN
    }

    /// Mean and population standard deviation of the `topN` highest cosine scores of one embedding
    /// against the cohort: `statistics(forMany: [embedding])[0]`, which equals the row of a larger batch
    /// to Float rounding only (BLAS sums a one-row product in another order).
    public func statistics(for embedding: [Float]) -> (mean: Double, std: Double) {
        statistics(forMany: [embedding])[0]
    }

    /// `statistics(for:)` for many embeddings: the embeddings are length-normalised and scored
    /// against the cohort by GEMM (Float, one call per block of up to ~4 M scores to bound memory),
    /// then the top N of each row are selected and reduced in Double. A zero embedding gets σ = 0
    /// (its scores are all 0), and so a non-finite normalised score.
    /// Precondition: every embedding has `dimension` elements (check it on user input first).
    public func statistics(forMany embeddings: [[Float]]) -> [(mean: Double, std: Double)] {
        let d = dimension, c = cohortSize
        let blockRows = max(1, min(embeddings.count, (1 << 22) / c))
        var result: [(mean: Double, std: Double)] = []
        result.reserveCapacity(embeddings.count)
        var a = [Float](repeating: 0, count: blockRows * d)
        var scores = [Float](repeating: 0, count: blockRows * c)
        var start = 0
        while start < embeddings.count {
            let rows = min(blockRows, embeddings.count - start)
            for r in 0..<rows {
                let e = embeddings[start + r]
                precondition(e.count == d, "ASNorm: embedding \(start + r) has \(e.count) values, the cohort \(d)")
                let norm = e.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
                let inv = norm > 0 ? 1 / norm : 0
                for j in 0..<d { a[r * d + j] = Float(Double(e[j]) * inv) }
            }
            // scores (rows, c) = a (rows, d) · cohortᵀ (d, c)
            a.withUnsafeBufferPointer { pa in
                cohort.withUnsafeBufferPointer { pc in
                    scores.withUnsafeMutableBufferPointer { ps in
                        gemm(.none, .transposed, m: rows, n: c, k: d, a: pa.baseAddress!, lda: d,
                             b: pc.baseAddress!, ldb: d, c: ps.baseAddress!, ldc: c)
                    }
                }
            }
            scores.withUnsafeMutableBufferPointer { ps in
                for r in 0..<rows {
                    let row = UnsafeMutableBufferPointer(rebasing: ps[(r * c)..<(r * c + c)])
                    result.append(ASNorm.topStatistics(row, topN: topN))
                }
            }
            start += rows
        }
        return result
    }

    /// `((s − μ_e)/σ_e + (s − μ_t)/σ_t) / 2`.
    @inlinable
    public func normalize(score: Double, enroll: (mean: Double, std: Double), test: (mean: Double, std: Double)) -> Double {
        0.5 * ((score - enroll.mean) / enroll.std + (score - test.mean) / test.std)
    }

    /// Mean and population std of the `topN` largest values; reorders `row` (quickselect puts the
    /// top N first, in no particular order).
    static func topStatistics(_ row: UnsafeMutableBufferPointer<Float>, topN: Int) -> (mean: Double, std: Double) {
        selectLargest(row, count: topN)
        var sum = 0.0
        for i in 0..<topN { sum += Double(row[i]) }
        let mean = sum / Double(topN)
        var ss = 0.0
        for i in 0..<topN {
            let dv = Double(row[i]) - mean
            ss += dv * dv
        }
        return (mean, (ss / Double(topN)).squareRoot())
    }

    /// Rearranges `x` so that its `count` largest elements come first (Hoare quickselect,
    /// median-of-three pivot; expected linear time).
    static func selectLargest(_ x: UnsafeMutableBufferPointer<Float>, count k: Int) {
        precondition(k >= 0 && k <= x.count)
        guard k > 0, k < x.count else { return }
        var lo = 0, hi = x.count - 1
        let target = k - 1  // index that must hold the k-th largest, with everything before it ≥ it
        while lo < hi {
            let mid = lo + (hi - lo) / 2
            // median of three, descending order
            if x[mid] > x[lo] { x.swapAt(mid, lo) }
            if x[hi] > x[lo] { x.swapAt(hi, lo) }
            if x[hi] > x[mid] { x.swapAt(hi, mid) }
            let pivot = x[mid]
            var i = lo, j = hi
            while i <= j {
                while x[i] > pivot { i += 1 }
                while x[j] < pivot { j -= 1 }
                if i <= j {
                    x.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if target <= j { hi = j } else if target >= i { lo = i } else { return }
        }
    }
}

/// Why a cohort cannot be used for AS-norm.
public enum ASNormError: Error, Equatable, CustomStringConvertible {
    case emptyCohort
    case invalidTopN(topN: Int, cohortSize: Int)
    case dimensionMismatch(index: Int, expected: Int, actual: Int)
    case badCohortEmbedding(index: Int, reason: String)

    public var description: String {
        switch self {
        case .emptyCohort:
            return "AS-norm: the cohort holds no embeddings; give a cohort of impostor embeddings (hundreds to thousands)"
        case let .invalidTopN(topN, size):
            return "AS-norm: top-N \(topN) is not between 2 and the cohort size \(size); "
                + "choose a top-N in 2...\(max(2, size))\(size < 2 ? " and a larger cohort" : "")"
        case let .dimensionMismatch(index, expected, actual):
            return "AS-norm: cohort embedding #\(index + 1) has \(actual) values but the first has \(expected); "
                + "all cohort embeddings must come from the same model"
        case let .badCohortEmbedding(index, reason):
            return "AS-norm: cohort embedding #\(index + 1) cannot be used: \(reason)"
        }
    }
}
