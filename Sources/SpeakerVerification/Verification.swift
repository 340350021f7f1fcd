import Foundation

/// The outcome of one verification.
public struct VerificationResult: Sendable, Equatable {
    /// Cosine similarity between the profile and the recording.
    public let cosine: Double
    /// Calibrated log-likelihood ratio, when the model has a calibration.
    public let llr: Double?
    /// The value compared with the threshold: the LLR when calibrated, else the cosine.
    public var score: Double { llr ?? cosine }
    public let threshold: Double
    /// Where the threshold came from, in words ("--threshold", "Bayes threshold at P_target 0.01").
    public let thresholdSource: String
    public var accepted: Bool { score >= threshold }
}

public enum VerificationError: Error, Equatable, CustomStringConvertible {
    case profile(ProfileError)
    case embedding(EmbeddingError)
    case noThreshold

    public var description: String {
        switch self {
        case .profile(let e): return e.description
        case .embedding(let e): return e.description
        case .noThreshold:
            return "this model outputs uncalibrated cosine scores and no --threshold was given: pass --threshold, or calibrate the model first (spkv calibrate) so decisions follow a target prior"
        }
    }
}

/// The threshold a decision is taken at: a fixed one, or the Bayes threshold log((1 − P)/P) of a calibrated
/// model's LLRs at target prior P. Batch (`Verification`) and live (`LiveVerifier`) decide through it.
public struct DecisionThreshold: Sendable, Equatable {
    public let value: Double
    /// Where the value came from, in words.
    public let source: String

    /// `fixed` when given; else the Bayes threshold, which needs a model whose scores are LLRs.
    public init(fixed: Double?, prior: Double, outputsLLR: Bool) throws(VerificationError) {
        if let fixed {
            value = fixed; source = "--threshold"
        } else {
            guard outputsLLR else { throw .noThreshold }
            value = BayesDecision.threshold(targetPrior: prior)
            source = "Bayes threshold log((1−P)/P) at target prior P = \(prior)"
        }
    }

    /// The decision on one comparison.
    public func decide(cosine: Double, llr: Double?) -> VerificationResult {
        VerificationResult(cosine: cosine, llr: llr, threshold: value, thresholdSource: source)
    }
}

public enum Verification {
    /// Scores `audioPath` against a profile and decides: at `threshold` when given, else at the
    /// Bayes threshold log((1 − P)/P) of the model's calibrated LLRs for target prior `prior`.
    public static func verify(profile: SpeakerProfile, profilePath: String, audioPath: String, model: SpeakerModel,
                              threshold: Double?, prior: Double) throws(VerificationError) -> VerificationResult {
        try verify(profile: profile, profilePath: profilePath, model: model, threshold: threshold, prior: prior) { embedder throws(EmbeddingError) in
            try embedder.embed(path: audioPath)
        }
    }

    /// The same for mono samples at the model's rate, named `source` in errors.
    public static func verify(profile: SpeakerProfile, profilePath: String, samples: [Float], source: String,
                              model: SpeakerModel, threshold: Double?, prior: Double) throws(VerificationError) -> VerificationResult {
        try verify(profile: profile, profilePath: profilePath, model: model, threshold: threshold, prior: prior) { embedder throws(EmbeddingError) in
            try embedder.embed(samples: samples, source: source)
        }
    }

    private static func verify(profile: SpeakerProfile, profilePath: String, model: SpeakerModel, threshold: Double?, prior: Double,
                               embed: (Embedder) throws(EmbeddingError) -> [Float]) throws(VerificationError) -> VerificationResult {
        do { try profile.checkCompatible(with: model, profilePath: profilePath) } catch { throw .profile(error) }
        let backend = model.scoring
        let decision = try DecisionThreshold(fixed: threshold, prior: prior, outputsLLR: backend.outputsLLR)
        let embedding: [Float]
        do { embedding = try embed(Embedder(model: model)) } catch { throw .embedding(error) }
        let (cosine, llr) = backend.compare(profile.embedding, embedding)
        return decision.decide(cosine: cosine, llr: llr)
    }
}
