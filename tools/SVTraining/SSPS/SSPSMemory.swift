/// The two SSPS memory queues (reference §5.3): Q̂ holds (dataset index, clean reference
/// representation ŷ, unit norm) and Q′ holds (dataset index, positive-view embedding z₂ as the
/// encoder produced it, not normalised). Both are ring buffers written a batch at a time at row
/// (step-in-epoch × B) mod capacity, so the position restarts every epoch; with Q̂'s capacity equal
/// to steps × B it holds exactly one row per utterance of the last epoch. Empty rows have index −1.
public final class SSPSMemory {
    /// Width of a Q̂ row (the representation) and of a Q′ row (SimCLR: the same; DINO: n_pos × K).
    public let dimension: Int
    public let positiveDimension: Int
    public private(set) var referenceIndices: [Int32]
    public private(set) var referenceEmbeddings: [Float]
    public private(set) var positiveIndices: [Int32]
    public private(set) var positiveEmbeddings: [Float]

    public var referenceCapacity: Int { referenceIndices.count }
    public var positiveCapacity: Int { positiveIndices.count }
    /// Float32 bytes held by both queues (embeddings and indices).
    public var bytes: Int { (referenceIndices.count * (dimension + 1) + positiveIndices.count * (positiveDimension + 1)) * 4 }
    /// Whether every Q̂ row holds an utterance (after the eval-mode fill pass).
    public var isFilled: Bool { !referenceIndices.contains(-1) }

    public init(referenceCapacity: Int, positiveCapacity: Int, dimension: Int, positiveDimension: Int? = nil) {
        let pd = positiveDimension ?? dimension
        precondition(referenceCapacity > 0 && positiveCapacity > 0 && dimension > 0 && pd > 0)
        self.dimension = dimension
        self.positiveDimension = pd
        referenceIndices = [Int32](repeating: -1, count: referenceCapacity)
        referenceEmbeddings = [Float](repeating: 0, count: referenceCapacity * dimension)
        positiveIndices = [Int32](repeating: -1, count: positiveCapacity)
        positiveEmbeddings = [Float](repeating: 0, count: positiveCapacity * pd)
    }

    /// Writes one batch (B rows) at step `step` of the epoch. `references` is B × D and `positives`
    /// B × `positiveDimension`.
    public func write(step: Int, indices: [Int], references: [Float], positives: [Float]) {
        let b = indices.count, d = dimension, pd = positiveDimension
        precondition(references.count == b * d && positives.count == b * pd)
        for r in 0..<b {
            let p = (step * b + r) % referenceCapacity, q = (step * b + r) % positiveCapacity
            referenceIndices[p] = Int32(indices[r])
            positiveIndices[q] = Int32(indices[r])
            for k in 0..<d { referenceEmbeddings[p * d + k] = references[r * d + k] }
            for k in 0..<pd { positiveEmbeddings[q * pd + k] = positives[r * pd + k] }
        }
    }

    // MARK: - Checkpoint tensors (indices stored as Float32: exact below 2^24 utterances)

    static let names = ["ssps.reference.index", "ssps.reference.embedding", "ssps.positive.index", "ssps.positive.embedding"]

    public var tensors: [String: (shape: [Int], values: [Float])] {
        [Self.names[0]: ([referenceCapacity], referenceIndices.map(Float.init)),
         Self.names[1]: ([referenceCapacity, dimension], referenceEmbeddings),
         Self.names[2]: ([positiveCapacity], positiveIndices.map(Float.init)),
         Self.names[3]: ([positiveCapacity, positiveDimension], positiveEmbeddings)]
    }

    /// Restores the queues from checkpoint tensors; false if they are absent (a checkpoint from before SSPS).
    public func restore(_ tensors: [String: [Float]], path: String) throws(TrainingError) -> Bool {
        let found = Self.names.map { tensors[$0] }
        if found.allSatisfy({ $0 == nil }) { return false }
        guard let ri = found[0], let re = found[1], let pi = found[2], let pe = found[3],
              ri.count == referenceCapacity, re.count == referenceCapacity * dimension,
              pi.count == positiveCapacity, pe.count == positiveCapacity * positiveDimension else {
            throw .checkpoint(path: path, reason: "SSPS queues are incomplete or sized for another configuration "
                              + "(Q̂ \(referenceCapacity) × \(dimension), Q′ \(positiveCapacity) × \(positiveDimension) expected)")
        }
        referenceIndices = ri.map { Int32($0) }; referenceEmbeddings = re
        positiveIndices = pi.map { Int32($0) }; positiveEmbeddings = pe
        return true
    }
}
