/// Everything that can go wrong when building a front end or extracting features.
public enum FeatureError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A `FeatureConfig` field has a value the front end cannot use.
    case invalidConfig(field: String, value: String, reason: String)
    /// The config JSON could not be decoded (missing key, wrong type, unknown enum value).
    case invalidJSON(reason: String)
    /// Fewer samples than one frame needs (`minimum` depends on n_fft, win_length and padding).
    case tooFewSamples(got: Int, minimum: Int)
    /// A table loaded from a model file has the wrong number of values.
    case tableShapeMismatch(table: String, expected: Int, actual: Int)
    /// A table loaded from a model file holds NaN or infinity.
    case nonFiniteTable(table: String, index: Int)
    /// The input holds NaN or infinity at `index`.
    case nonFiniteSample(index: Int)
    /// The caller's output buffer is smaller than n_mels × frames.
    case outputTooSmall(needed: Int, got: Int)

    public var description: String {
        switch self {
        case let .invalidConfig(field, value, reason):
            return "invalid feature config: \(field) = \(value): \(reason)"
        case let .invalidJSON(reason):
            return "cannot decode the feature config JSON: \(reason); re-export the model or fix the config"
        case let .tooFewSamples(got, minimum):
            return "audio too short for one feature frame: \(got) samples, need at least \(minimum); "
                + "pass a longer recording"
        case let .tableShapeMismatch(table, expected, actual):
            return "feature table \(table) has \(actual) values, expected \(expected) for this config; "
                + "the model file is inconsistent, re-export it"
        case let .nonFiniteTable(table, index):
            return "feature table \(table) holds a non-finite value at index \(index); the model file is corrupt"
        case let .nonFiniteSample(index):
            return "audio sample \(index) is NaN or infinite; check the decoder or the capture path"
        case let .outputTooSmall(needed, got):
            return "feature output buffer holds \(got) values, needs \(needed) (n_mels × frames)"
        }
    }
}
