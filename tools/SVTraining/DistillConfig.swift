/// How the student is compared with the teacher: both are L2-normalised first, so `mse` is ‖ŝ − t̂‖² = 2 − 2·cos
/// (twice the cosine loss, kept as its own name because papers state it so).
public enum DistillLoss: String, Codable, Sendable, CaseIterable {
    case cosine, mse
}

/// Distillation settings (`distill.*` config keys): the student (ECAPA-TDNN) learns to reproduce a frozen spkv
/// model's embedding of the *clean* whole utterance from an *augmented* crop. The teacher's embeddings are computed
/// once per audio file and cached (`distill-teacher.safetensors` in the run folder, keyed by model checksum and audio file; `FrozenEmbeddingTable`). When the
/// teacher's embedding size differs from the student's, a learned linear head (`distill.head.weight`, trained with
/// the student, not exported) maps the student's embedding to the teacher's size.
public struct DistillConfig: Codable, Equatable, Sendable {
    /// The teacher model file; empty: no distillation.
    public var teacherModel: String = ""
    /// Weight of the distillation loss: the whole loss for `method: distill`, added to NT-Xent for `simclr`.
    public var weight: Double = 1
    public var loss: DistillLoss = .cosine

    enum CodingKeys: String, CodingKey {
        case teacherModel = "teacher_model", weight, loss
    }

    public init() {}

    public var isEnabled: Bool { !teacherModel.isEmpty }
}
