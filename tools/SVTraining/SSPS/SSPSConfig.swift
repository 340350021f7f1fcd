/// How SSPS picks a pseudo-positive (reference §5.6, §5.8).
public enum SSPSSampling: String, Codable, Sendable, CaseIterable {
    /// SSPS-Clustering: a stored positive embedding from the anchor's k-means cluster (M = 0) or from
    /// one of its M nearest other clusters (M ≥ 1), assignments frozen at the start of each epoch.
    case kmeans = "kmeans-repr"
    /// SSPS-NN: a stored positive embedding of one of the M nearest reference representations (fresh
    /// similarities each step, the anchor's own utterance excluded).
    case knn
}

/// SSPS settings (`ssps.*` config keys). SSPS is a fine-tuning stage: a run with `ssps.enabled`
/// normally starts from a base SimCLR or DINO checkpoint (`init_from`), fills its queues with one eval-mode
/// pass of the first SSPS epoch's batches, then samples pseudo-positives in every epoch.
public struct SSPSConfig: Codable, Equatable, Sendable {
    public var enabled: Bool = false
    public var sampling: SSPSSampling = .kmeans
    /// K: k-means clusters (reference 25,000 for VoxCeleb2's 5,994 speakers).
    public var clusters: Int = 100
    /// k-means iterations (E-steps: iterations + 1).
    public var iterations: Int = 10
    /// Q′ capacity before rounding down to a multiple of the batch size; 0 = `clusters` (the reference's K′ = K).
    public var positiveQueue: Int = 0
    /// M: neighbouring clusters to draw from (0 = the anchor's own cluster), or the k of SSPS-NN.
    public var neighbours: Int = 1
    /// Length of the clean (never augmented) reference crop whose representation is clustered.
    public var referenceSeconds: Double = 4
    /// A frozen spkv model file (e.g. the CAM++ default) whose embedding of each whole clean utterance replaces
    /// the student's ŷ: clustering and nearest neighbours run in its space (reference-guided SSPS); the positives
    /// drawn are still the student's stored z₂ from Q′. Empty: the student's own representation (the paper's SSPS).
    public var referenceModel: String = ""
    /// DINO only: ŷ from the teacher encoder with batch-statistics batch norm (which also updates the
    /// teacher's running statistics), as the reference code ran (§5.2); false: eval-mode batch norm.
    public var teacherReferenceTrainMode: Bool = true

    enum CodingKeys: String, CodingKey {
        case enabled, sampling, clusters, iterations, neighbours
        case positiveQueue = "positive_queue", referenceSeconds = "reference_seconds"
        case teacherReferenceTrainMode = "teacher_reference_train_mode", referenceModel = "reference_model"
    }

    public init() {}

    /// Whether ŷ comes from a frozen reference model (then no reference crops are cut from the audio).
    public var usesReferenceModel: Bool { !referenceModel.isEmpty }

    /// Q′ capacity: the configured size (or K) rounded down to whole batches, at least one batch.
    public func positiveCapacity(batchSize: Int) -> Int {
        let size = positiveQueue > 0 ? positiveQueue : clusters
        return max(batchSize, size - size % batchSize)
    }

    func check() throws(TrainingError) {
        guard clusters >= 1 else { throw .config(key: "ssps.clusters", reason: "must be at least 1") }
        guard iterations >= 0 else { throw .config(key: "ssps.iterations", reason: "must be ≥ 0") }
        guard positiveQueue >= 0 else { throw .config(key: "ssps.positive_queue", reason: "must be ≥ 0 (0 = clusters)") }
        guard neighbours >= 0 else { throw .config(key: "ssps.neighbours", reason: "must be ≥ 0") }
        guard sampling == .kmeans || neighbours >= 1 else { throw .config(key: "ssps.neighbours", reason: "knn needs at least 1") }
        guard sampling == .knn || neighbours < clusters else {
            throw .config(key: "ssps.neighbours", reason: "\(neighbours) neighbouring clusters need more than \(clusters) clusters")
        }
        guard referenceSeconds > 0.1, referenceSeconds <= 30 else { throw .config(key: "ssps.reference_seconds", reason: "must be in (0.1, 30]") }
    }
}
