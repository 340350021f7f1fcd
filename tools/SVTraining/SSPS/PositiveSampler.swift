import SVCorpus
import SVKernels

/// The clustering SSPS samples from during one epoch (reference §5.4–5.5): spherical k-means of the
/// Q̂ rows at the start of the epoch, frozen for the whole epoch.
public struct SSPSEpochClusters: Sendable {
    /// Cluster per dataset index; −1 for utterances absent from Q̂.
    public var assignments: [Int32]
    /// Clusters to draw from, per cluster: [c] for M = 0, else the M nearest other clusters.
    public var neighbours: [[Int32]]
    public var clusterCount: Int
    /// NMI of the Q̂ rows' clusters against their speakers and recordings (diagnostics only).
    public var nmiSpeaker: Double?
    public var nmiRecording: Double?
}

/// Pseudo-positive draws. Every draw derives from (seed, epoch, step, row), so resumed runs repeat them.
public enum PositiveSampler {
    /// k-means on the filled rows of Q̂ (K clamped to their count), the neighbour table, and NMI when labels are given.
    public static func clusters(memory: SSPSMemory, config: SSPSConfig, datasetSize: Int, seed: UInt64, epoch: Int,
                                speakers: [Int]? = nil, recordings: [Int]? = nil, labeled: [Bool]? = nil) -> SSPSEpochClusters {
        let d = memory.dimension
        let rows = memory.referenceIndices.indices.filter { memory.referenceIndices[$0] >= 0 }
        var assignments = [Int32](repeating: -1, count: datasetSize)
        guard !rows.isEmpty else { return SSPSEpochClusters(assignments: assignments, neighbours: [], clusterCount: 0) }
        var data = [Float](repeating: 0, count: rows.count * d)
        for (i, r) in rows.enumerated() {
            for k in 0..<d { data[i * d + k] = memory.referenceEmbeddings[r * d + k] }
        }
        let k = min(config.clusters, rows.count)
        var stream = CorpusRandom(seed: seed, "ssps-kmeans", epoch)
        let fit = SphericalKMeans.fit(rows: data, count: rows.count, dimension: d, clusters: k, iterations: config.iterations,
                                      seed: stream.next())
        // Later rows win for an index stored twice, as assignments[dataset_index] = … does in the reference.
        for (i, r) in rows.enumerated() { assignments[Int(memory.referenceIndices[r])] = fit.assignments[i] }
        let m = min(config.neighbours, k - 1)
        let table = SphericalKMeans.neighbourTable(centroids: fit.centroids, clusters: k, dimension: d, m: m)
        var result = SSPSEpochClusters(assignments: assignments, neighbours: table, clusterCount: k)
        let clusterOfRow = fit.assignments.map(Int.init)
        let indexOfRow = rows.map { Int(memory.referenceIndices[$0]) }
        if let speakers {
            // Against speakers only where the speaker is known (unlabeled rows have no class).
            let known = indexOfRow.indices.filter { labeled?[indexOfRow[$0]] ?? true }
            if !known.isEmpty {
                result.nmiSpeaker = ClusterMetrics.normalizedMutualInformation(known.map { clusterOfRow[$0] }, known.map { speakers[indexOfRow[$0]] })
            }
        }
        if let recordings { result.nmiRecording = ClusterMetrics.normalizedMutualInformation(clusterOfRow, indexOfRow.map { recordings[$0] }) }
        return result
    }

    /// SSPS-Clustering (`kmeans-repr`, reference §5.6): for each anchor (dataset index), the Q′ slot of
    /// its pseudo-positive, or nil to keep the ordinary positive. Uses Q′ as it is before this step's write.
    public static func drawFromClusters(anchors: [Int], memory: SSPSMemory, clusters: SSPSEpochClusters,
                                        seed: UInt64, epoch: Int, step: Int) -> [Int?] {
        guard clusters.clusterCount > 0 else { return anchors.map { _ in nil } }
        // Q′ slots bucketed by the epoch-start cluster of the utterance they hold (one pass over Q′ per
        // step, then O(1) per anchor), and the last slot of every stored utterance.
        var buckets = [[Int]](repeating: [], count: clusters.clusterCount)
        var lastSlot: [Int32: Int] = [:]
        for (slot, u) in memory.positiveIndices.enumerated() where u >= 0 {
            lastSlot[u] = slot
            let c = clusters.assignments[Int(u)]
            if c >= 0 { buckets[Int(c)].append(slot) }
        }
        return anchors.enumerated().map { row, u in
            let c = clusters.assignments[u]
            guard c >= 0 else { return nil }
            var r = CorpusRandom(seed: seed, "ssps-draw", epoch, step, row)
            let options = clusters.neighbours[Int(c)]
            let chosen = Int(options[r.int(0...(options.count - 1))])
            let candidates = buckets[chosen]
            guard !candidates.isEmpty else { return nil }
            let slot = candidates[r.int(0...(candidates.count - 1))]
            return lastSlot[memory.positiveIndices[slot]]
        }
    }

    /// SSPS-NN (`knn`, reference §5.8): similarities of this batch's references (B × D, unit rows) to
    /// every Q̂ row by one GEMM, the anchor's own utterance and empty rows excluded, one of the `m` most
    /// similar rows drawn uniformly; its Q′ slot (Q̂ and Q′ share capacity and write position).
    public static func drawNearest(anchors: [Int], references: [Float], memory: SSPSMemory, m: Int,
                                   seed: UInt64, epoch: Int, step: Int) -> [Int?] {
        let b = anchors.count, n = memory.referenceCapacity, d = memory.dimension
        precondition(memory.positiveCapacity == n, "knn needs Q̂ and Q′ of one capacity")
        var sims = [Float](repeating: 0, count: b * n)
        references.withUnsafeBufferPointer { a in
            memory.referenceEmbeddings.withUnsafeBufferPointer { q in
                sims.withUnsafeMutableBufferPointer { c in
                    gemm(.none, .transposed, m: b, n: n, k: d, a: a.baseAddress!, lda: d, b: q.baseAddress!, ldb: d,
                         c: c.baseAddress!, ldc: n)
                }
            }
        }
        return anchors.enumerated().map { row, u in
            var top: [(Float, Int)] = []   // ascending by similarity, at most m
            for j in 0..<n {
                let idx = memory.referenceIndices[j]
                guard idx >= 0, Int(idx) != u, memory.positiveIndices[j] >= 0 else { continue }
                let s = sims[row * n + j]
                if top.count < m { top.append((s, j)); top.sort { $0.0 < $1.0 } } else if s > top[0].0 {
                    top[0] = (s, j); top.sort { $0.0 < $1.0 }
                }
            }
            guard !top.isEmpty else { return nil }
            var r = CorpusRandom(seed: seed, "ssps-draw", epoch, step, row)
            return top[r.int(0...(top.count - 1))].1
        }
    }
}
