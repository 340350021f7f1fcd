import SVKernels

/// Output of ``SphericalKMeans/fit(rows:count:dimension:clusters:iterations:seed:)``.
public struct SphericalKMeansResult: Sendable {
    /// k×d row-major, each row unit norm (a cluster whose assigned rows sum to zero stays zero).
    public var centroids: [Float]
    /// The cluster of every input row, from the final E-step.
    public var assignments: [Int32]
    /// M-steps actually run: `iterations`, or fewer when an E-step reproduced the previous
    /// assignments (a fixed point, so the remaining rounds would have changed nothing).
    public var iterationsRun: Int
}

/// Spherical (cosine) k-means for SSPS pseudo-labels, after sslsv's `SSPS` k-means: fixed number
/// of rounds, random distinct rows as initial centroids, empty clusters keep their centroid.
public enum SphericalKMeans {
    /// Rows per E-step GEMM; bounds the similarity scratch to `chunkRows × k` floats.
    static let chunkRows = 2048

    /// Spherical (cosine) k-means on the rows of `rows` (n×d row-major).
    ///
    /// Rows are L2-normalised internally (zero rows stay zero; their similarities are all 0, so
    /// they go to cluster 0 by the tie rule). Initial centroids are the normalised rows
    /// ``initialRowIndices(count:clusters:seed:)`` (k distinct rows from a Fisher–Yates shuffle
    /// driven by `SplitMix64(seed)`). Then `iterations` rounds of
    /// - E-step: assignment = argmax_c ⟨row, centroid_c⟩, ties → lowest c; the similarities are one
    ///   OpenBLAS GEMM (rows × centroidsᵀ) per chunk of rows;
    /// - M-step: a non-empty cluster's centroid becomes the L2-normalised mean of its rows (mean and
    ///   norm in Double); an empty cluster keeps its previous centroid;
    /// and a final E-step, i.e. iterations + 1 E-steps and iterations M-steps as in sslsv. The loop
    /// stops early at a fixed point (see ``SphericalKMeansResult/iterationsRun``); the result is the
    /// same as running every round.
    ///
    /// Requires `1 ≤ k ≤ n`, `d ≥ 1`, `rows.count == n·d`, `iterations ≥ 0`.
    public static func fit(rows: [Float], count n: Int, dimension d: Int, clusters k: Int,
                           iterations: Int = 10, seed: UInt64) -> SphericalKMeansResult {
        precondition(d >= 1, "SphericalKMeans.fit: dimension d = \(d) must be at least 1")
        precondition(n >= 0 && rows.count == n * d,
                     "SphericalKMeans.fit: rows has \(rows.count) values, expected n·d = \(n)·\(d)")
        precondition(k >= 1 && k <= n,
                     "SphericalKMeans.fit: clusters k = \(k) must be in 1...n (n = \(n) rows); "
                     + "use fewer clusters or more rows")
        precondition(iterations >= 0, "SphericalKMeans.fit: iterations = \(iterations) must be ≥ 0")

        let x = normalizedRows(rows, count: n, dimension: d)
        var centroids = [Float](repeating: 0, count: k * d)
        for (c, r) in initialRowIndices(count: n, clusters: k, seed: seed).enumerated() {
            centroids.replaceSubrange(c * d..<(c + 1) * d, with: x[r * d..<(r + 1) * d])
        }
        var assignments = [Int32](repeating: 0, count: n)
        var previous = [Int32]()
        var scratch = [Float](repeating: 0, count: min(n, chunkRows) * k)
        var iterationsRun = 0
        for round in 0..<iterations {
            assign(x, count: n, dimension: d, centroids: centroids, clusters: k,
                   into: &assignments, scratch: &scratch)
            // Same assignments as the previous E-step → the M-step below would recompute the
            // centroids it produced last round: nothing can change any more.
            if round > 0 && assignments == previous { break }
            update(&centroids, rows: x, count: n, dimension: d, clusters: k, assignments: assignments)
            iterationsRun += 1
            previous = assignments
        }
        assign(x, count: n, dimension: d, centroids: centroids, clusters: k,
               into: &assignments, scratch: &scratch)
        return SphericalKMeansResult(centroids: centroids, assignments: assignments,
                                     iterationsRun: iterationsRun)
    }

    /// For every cluster c: `m == 0` → `[c]`; `m ≥ 1` → the m nearest *other* clusters by centroid
    /// cosine, nearest first, ties → lower index. Centroids (k×d row-major) are normalised here,
    /// so they need not be unit norm; similarities are one GEMM. Requires `0 ≤ m ≤ k − 1`.
    public static func neighbourTable(centroids: [Float], clusters k: Int, dimension d: Int,
                                      m: Int) -> [[Int32]] {
        precondition(k >= 1 && d >= 1 && centroids.count == k * d,
                     "SphericalKMeans.neighbourTable: centroids has \(centroids.count) values, "
                     + "expected k·d = \(k)·\(d) with k, d ≥ 1")
        precondition(m >= 0 && m <= k - 1,
                     "SphericalKMeans.neighbourTable: m = \(m) must be in 0...\(k - 1) (k = \(k) clusters)")
        if m == 0 { return (0..<k).map { [Int32($0)] } }

        let c = normalizedRows(centroids, count: k, dimension: d)
        var similarity = [Float](repeating: 0, count: k * k)
        c.withUnsafeBufferPointer { cp in
            similarity.withUnsafeMutableBufferPointer { sp in
                gemm(.none, .transposed, m: k, n: k, k: d, a: cp.baseAddress!, lda: d,
                     b: cp.baseAddress!, ldb: d, c: sp.baseAddress!, ldc: k)
            }
        }
        return (0..<k).map { row in
            // Running top-m list, best first; candidates arrive in increasing index, so an equal
            // similarity goes after the ones already there (ties → lower index).
            var top = [(similarity: Float, index: Int)]()
            top.reserveCapacity(m + 1)
            for j in 0..<k where j != row {
                let s = similarity[row * k + j]
                if top.count == m && !(s > top[m - 1].similarity) { continue }
                var position = top.count
                while position > 0 && s > top[position - 1].similarity { position -= 1 }
                top.insert((s, j), at: position)
                if top.count > m { top.removeLast() }
            }
            return top.map { Int32($0.index) }
        }
    }

    // MARK: - Steps

    /// The k distinct rows used as initial centroids, in centroid order: the first k entries of a
    /// Fisher–Yates shuffle of 0..<n (`for i in stride(from: n − 1, to: 0, by: −1)`, swap i with
    /// `j = next() % (i + 1)` from `SplitMix64(seed)`).
    static func initialRowIndices(count n: Int, clusters k: Int, seed: UInt64) -> [Int] {
        var rng = SplitMix64(seed: seed)
        var permutation = Array(0..<n)
        var i = n - 1
        while i > 0 {
            let j = Int(rng.next() % UInt64(i + 1))
            permutation.swapAt(i, j)
            i -= 1
        }
        return Array(permutation.prefix(k))
    }

    /// Rows scaled to unit L2 norm (norm in Double); zero rows stay zero.
    static func normalizedRows(_ rows: [Float], count n: Int, dimension d: Int) -> [Float] {
        var out = rows
        for r in 0..<n {
            var sumSquares = 0.0
            for i in r * d..<(r + 1) * d { sumSquares += Double(rows[i]) * Double(rows[i]) }
            guard sumSquares > 0 else { continue }
            let scale = 1 / sumSquares.squareRoot()
            for i in r * d..<(r + 1) * d { out[i] = Float(Double(rows[i]) * scale) }
        }
        return out
    }

    /// E-step: `assignments[r] = argmax_c ⟨x_r, centroid_c⟩` (first maximum), one GEMM per chunk.
    static func assign(_ x: [Float], count n: Int, dimension d: Int, centroids: [Float], clusters k: Int,
                       into assignments: inout [Int32], scratch: inout [Float]) {
        x.withUnsafeBufferPointer { xp in
            centroids.withUnsafeBufferPointer { cp in
                scratch.withUnsafeMutableBufferPointer { sp in
                    var start = 0
                    while start < n {
                        let rows = min(chunkRows, n - start)
                        gemm(.none, .transposed, m: rows, n: k, k: d, a: xp.baseAddress! + start * d,
                             lda: d, b: cp.baseAddress!, ldb: d, c: sp.baseAddress!, ldc: k)
                        for r in 0..<rows {
                            let s = sp.baseAddress! + r * k
                            var best = 0
                            var bestValue = s[0]
                            for c in 1..<k where s[c] > bestValue {
                                best = c
                                bestValue = s[c]
                            }
                            assignments[start + r] = Int32(best)
                        }
                        start += rows
                    }
                }
            }
        }
    }

    /// M-step: normalised mean of the assigned rows for non-empty clusters (Double accumulation);
    /// empty clusters keep their centroid; a zero mean gives a zero centroid.
    static func update(_ centroids: inout [Float], rows x: [Float], count n: Int, dimension d: Int,
                       clusters k: Int, assignments: [Int32]) {
        var sums = [Double](repeating: 0, count: k * d)
        var members = [Int](repeating: 0, count: k)
        for r in 0..<n {
            let c = Int(assignments[r])
            members[c] += 1
            for i in 0..<d { sums[c * d + i] += Double(x[r * d + i]) }
        }
        for c in 0..<k where members[c] > 0 {
            var sumSquares = 0.0
            for i in 0..<d {
                let mean = sums[c * d + i] / Double(members[c])
                sums[c * d + i] = mean
                sumSquares += mean * mean
            }
            let scale = sumSquares > 0 ? 1 / sumSquares.squareRoot() : 0
            for i in 0..<d { centroids[c * d + i] = Float(sums[c * d + i] * scale) }
        }
    }
}
