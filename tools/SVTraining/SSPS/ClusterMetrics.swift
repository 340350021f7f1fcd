import Foundation

/// Agreement scores between two clusterings of the same samples (used to watch SSPS pseudo-labels
/// against the true speakers).
public enum ClusterMetrics {
    /// Normalised mutual information, equal to scikit-learn's
    /// `normalized_mutual_info_score(labelsA, labelsB)` with its default
    /// `average_method="arithmetic"`: `MI(A, B) / ((H(A) + H(B)) / 2)`, natural log, in Double.
    ///
    /// Label values are arbitrary (only equality matters) and the score is symmetric. As in
    /// scikit-learn: both labelings with a single cluster (or both empty) → 1.0; otherwise a
    /// mutual information of 0 (e.g. one labeling has a single cluster) → 0.0; per-cell terms below
    /// machine epsilon are dropped and the MI is clipped at 0. Sums follow NumPy's pairwise
    /// summation in the same order as scikit-learn, so the result matches to a few ulps.
    /// The two arrays must have the same length.
    public static func normalizedMutualInformation(_ labelsA: [Int], _ labelsB: [Int]) -> Double {
        precondition(labelsA.count == labelsB.count,
                     "normalizedMutualInformation: labelings have different lengths "
                     + "(\(labelsA.count) and \(labelsB.count)); pass one label per sample in both")
        let (classes, classIndex) = denseLabels(labelsA)
        let (clusters, clusterIndex) = denseLabels(labelsB)
        if classes == clusters && (classes == 1 || classes == 0) { return 1.0 }

        let mi = mutualInformation(classIndex, classes: classes, clusterIndex, clusters: clusters)
        if mi == 0 { return 0.0 }
        let hA = entropy(counts(classIndex, classes))
        let hB = entropy(counts(clusterIndex, clusters))
        // np.mean([hA, hB])
        return mi / ((hA + hB) / 2)
    }

    // MARK: - Pieces of scikit-learn's computation

    /// Maps label values to 0..<count in increasing value order (np.unique(return_inverse=True)).
    static func denseLabels(_ labels: [Int]) -> (count: Int, index: [Int]) {
        let sortedValues = Array(Set(labels)).sorted()
        var position = [Int: Int](minimumCapacity: sortedValues.count)
        for (i, value) in sortedValues.enumerated() { position[value] = i }
        return (sortedValues.count, labels.map { position[$0]! })
    }

    static func counts(_ index: [Int], _ count: Int) -> [Double] {
        var result = [Double](repeating: 0, count: count)
        for i in index { result[i] += 1 }
        return result
    }

    /// sklearn `mutual_info_score` from the sparse contingency table: non-zero cells in row-major
    /// order, term = p·(log n_ij − log N) + p·(−log(a_i·b_j) + log N + log N).
    static func mutualInformation(_ a: [Int], classes: Int, _ b: [Int], clusters: Int) -> Double {
        if classes == 1 || clusters == 1 { return 0 }
        var cells = [Int: Int]()
        for (i, j) in zip(a, b) { cells[i * clusters + j, default: 0] += 1 }
        let rowSums = counts(a, classes)
        let columnSums = counts(b, clusters)
        let total = Double(a.count)
        let logTotal = log(total)
        var terms = [Double]()
        terms.reserveCapacity(cells.count)
        for key in cells.keys.sorted() {
            let nij = Double(cells[key]!)
            let outer = rowSums[key / clusters] * columnSums[key % clusters]  // exact below 2^53
            let p = nij / total
            let logOuter = -log(outer) + logTotal + logTotal
            let term = p * (log(nij) - logTotal) + p * logOuter
            terms.append(abs(term) < Double.ulpOfOne ? 0 : term)
        }
        return max(numpyPairwiseSum(terms), 0)
    }

    /// sklearn `_entropy`: −Σ (c/N)·(log c − log N) over non-empty labels; 0 for one label.
    static func entropy(_ labelCounts: [Double]) -> Double {
        if labelCounts.count == 1 { return 0 }
        let total = numpyPairwiseSum(labelCounts)
        let logTotal = log(total)
        return -numpyPairwiseSum(labelCounts.map { ($0 / total) * (log($0) - logTotal) })
    }

    /// NumPy's `pairwise_sum` for float64 (`np.sum` of a contiguous 1-D array): sequential below 8
    /// elements, 8 interleaved accumulators up to 128, halving (rounded to a multiple of 8) above.
    static func numpyPairwiseSum(_ x: [Double]) -> Double {
        x.withUnsafeBufferPointer { pairwiseSum($0.baseAddress, $0.count) }
    }

    private static func pairwiseSum(_ a: UnsafePointer<Double>?, _ n: Int) -> Double {
        guard let a, n > 0 else { return 0 }
        if n < 8 {
            var result = 0.0
            for i in 0..<n { result += a[i] }
            return result
        } else if n <= 128 {
            var r = (0..<8).map { a[$0] }
            var i = 8
            while i < n - n % 8 {
                for j in 0..<8 { r[j] += a[i + j] }
                i += 8
            }
            var result = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
            while i < n {
                result += a[i]
                i += 1
            }
            return result
        } else {
            var half = n / 2
            half -= half % 8
            return pairwiseSum(a, half) + pairwiseSum(a + half, n - half)
        }
    }
}
