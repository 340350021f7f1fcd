/// DINO settings (`dino.*` config keys), reference §4 (sslsv's paper-era DINO). The optimiser is SGD
/// with momentum 0.9 on the top-level `lr` and `weight_decay` keys, which DINO wants at 0.2 and 5e-5
/// (the defaults there are SimCLR's); the crop lengths are `dino_global_seconds` / `dino_local_seconds`,
/// and DINO's reference augmentation is `augmentation: all`.
public struct DINOConfig: Codable, Equatable, Sendable {
    /// Head widths: Linear(E→hidden) → BN → GELU → Linear(hidden→hidden) → BN → GELU → Linear(hidden→bottleneck).
    public var hidden: Int = 2048
    public var bottleneck: Int = 256
    /// Prototypes of the weight-normalised last layer (65,536 in the paper; the default suits small corpora).
    public var prototypes: Int = 4096
    public var studentTemperature: Double = 0.1
    /// Constant (the reference's teacher-temperature "warm-up" is linspace(0.04, 0.04)).
    public var teacherTemperature: Double = 0.04
    /// Center momentum: c ← m·c + (1 − m)·mean(T) after each loss.
    public var centerMomentum: Double = 0.9
    /// Base EMA momentum of the teacher, cosine to 1 over the schedule.
    public var momentum: Double = 0.996
    /// Linear LR warm-up 0 → lr over these epochs, then the cosine (appended, as the paper-era code).
    public var warmupEpochs: Int = 10
    /// Epochs the LR and EMA schedules span (the reference: 100 while training stops at 80); 0 = `epochs`.
    public var scheduleEpochs: Int = 0
    /// Where the LR cosine would end (never reached, because of the warm-up offset).
    public var finalLR: Double = 1e-5
    /// Per-tensor gradient-norm clip (0 = off).
    public var clipGrad: Double = 3
    /// Epochs during which the head's last-layer gradients are dropped.
    public var freezeLastLayer: Int = 1

    enum CodingKeys: String, CodingKey {
        case hidden, bottleneck, prototypes, momentum
        case studentTemperature = "student_temperature", teacherTemperature = "teacher_temperature"
        case centerMomentum = "center_momentum", warmupEpochs = "warmup_epochs", scheduleEpochs = "schedule_epochs"
        case finalLR = "final_lr", clipGrad = "clip_grad", freezeLastLayer = "freeze_last_layer"
    }

    public init() {}

    func check() throws(TrainingError) {
        guard hidden >= 1, bottleneck >= 1, prototypes >= 2 else {
            throw .config(key: "dino.prototypes", reason: "hidden and bottleneck must be ≥ 1 and prototypes ≥ 2")
        }
        guard studentTemperature > 0, teacherTemperature > 0 else {
            throw .config(key: "dino.teacher_temperature", reason: "student and teacher temperatures must be positive")
        }
        guard (0...1).contains(centerMomentum) else { throw .config(key: "dino.center_momentum", reason: "must be in [0, 1]") }
        guard (0...1).contains(momentum) else { throw .config(key: "dino.momentum", reason: "must be in [0, 1]") }
        guard warmupEpochs >= 0 else { throw .config(key: "dino.warmup_epochs", reason: "must be ≥ 0") }
        guard scheduleEpochs >= 0 else { throw .config(key: "dino.schedule_epochs", reason: "must be ≥ 0 (0 = epochs)") }
        guard finalLR >= 0 else { throw .config(key: "dino.final_lr", reason: "must be ≥ 0") }
        guard clipGrad >= 0 else { throw .config(key: "dino.clip_grad", reason: "must be ≥ 0 (0 = off)") }
        guard freezeLastLayer >= 0 else { throw .config(key: "dino.freeze_last_layer", reason: "must be ≥ 0") }
    }
}
