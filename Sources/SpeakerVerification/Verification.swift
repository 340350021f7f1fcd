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
    case scoring(String)
    case noThreshold

    public var description: String {
        switch self {
        case .profile(let e): return e.description
        case .embedding(let e): return e.description
        case .scoring(let why): return why
        case .noThreshold:
            return "this model outputs uncalibrated cosine scores and no --threshold was given: pass --threshold, or calibrate the model first (spkv calibrate) so decisions follow a target prior"
        }
    }
}

public enum Verification {
    /// Scores `audioPath` against a profile and decides: at `threshold` when given, else at the
    /// Bayes threshold log((1 − P)/P) of the model's calibrated LLRs for target prior `prior`.
    public static func verify(profile: SpeakerProfile, profilePath: String, audioPath: String, model: SpeakerModel,
                              threshold: Double?, prior: Double) throws(VerificationError) -> VerificationResult {
        do { try profile.checkCompatible(with: model, profilePath: profilePath) } catch { throw .profile(error) }
        let backend: ScoringBackend
        do { backend = try ScoringBackend(model: model) } catch { throw .scoring(error.description) }
        let embedding: [Float]
        do { embedding = try Embedder(model: model).embed(path: audioPath) } catch { throw .embedding(error) }
        let (cosine, llr) = backend.compare(profile.embedding, embedding)
        if let threshold {
            return VerificationResult(cosine: cosine, llr: llr, threshold: threshold, thresholdSource: "--threshold")
        }
        guard llr != nil else { throw .noThreshold }
        return VerificationResult(cosine: cosine, llr: llr, threshold: BayesDecision.threshold(targetPrior: prior),
                                  thresholdSource: "Bayes threshold log((1−P)/P) at target prior P = \(prior)")
    }
}
