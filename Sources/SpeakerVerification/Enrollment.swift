import Foundation
import SVStreaming

/// Why a speaker could not be enrolled.
public enum EnrollmentError: Error, Equatable, CustomStringConvertible {
    case noRecordings
    case embedding(EmbeddingError)
    case tooLittleSpeech(total: Double, minimum: Double, perRecording: [String: Double])
    case invalidName(String)

    public var description: String {
        switch self {
        case .noRecordings: return "enrollment needs at least one recording"
        case .embedding(let e): return e.description
        case .tooLittleSpeech(let total, let minimum, let per):
            let list = per.sorted { $0.key < $1.key }.map { "\($0.key): \(String(format: "%.2f", $0.value)) s" }
            return String(format: "too little speech to enroll: %.2f s detected, at least %.2f s needed", total, minimum)
                + " (\(list.joined(separator: ", "))); record more, or lower the minimum with --min-speech"
        case .invalidName(let name): return "invalid speaker name '\(name)': use a non-empty name without control characters"
        }
    }
}

public enum Enrollment {
    /// Seconds of detected speech required over all recordings unless the caller says otherwise.
    public static let defaultMinimumSpeechSeconds = 3.0

    /// Builds a profile: the mean of the recordings' length-normalised embeddings (for a MagNetO model,
    /// of their `a·x̂` vectors, so a score is the mean of the per-recording LLRs), with each
    /// recording's duration and detected speech (energy VAD) recorded.
    public static func enroll(name: String, paths: [String], model: SpeakerModel,
                              minimumSpeechSeconds: Double = defaultMinimumSpeechSeconds) throws(EnrollmentError) -> SpeakerProfile {
        var clips: [(source: String, samples: [Float])] = []
        for path in paths {
            do { clips.append((path, try AudioFile.readMono(path: path, sampleRate: model.features.sampleRate).samples)) } catch {
                throw .embedding(.audio(error))
            }
        }
        return try enroll(name: name, recordings: clips, model: model, minimumSpeechSeconds: minimumSpeechSeconds)
    }

    /// The same from samples at the model's rate (e.g. captured live), each named by `source`.
    public static func enroll(name: String, recordings clips: [(source: String, samples: [Float])], model: SpeakerModel,
                              minimumSpeechSeconds: Double = defaultMinimumSpeechSeconds) throws(EnrollmentError) -> SpeakerProfile {
        guard !name.isEmpty, !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .invalidName(name)
        }
        guard !clips.isEmpty else { throw .noRecordings }
        let embedder = Embedder(model: model)
        let rate = Double(model.features.sampleRate)
        let vad = EnergyVAD(sampleRate: model.features.sampleRate)
        var embeddings: [[Float]] = []
        var recordings: [SpeakerProfile.Recording] = []
        for clip in clips {
            do { embeddings.append(try embedder.embed(samples: clip.samples, source: clip.source)) } catch { throw .embedding(error) }
            recordings.append(.init(path: clip.source, seconds: Double(clip.samples.count) / rate, speechSeconds: vad.speechSeconds(clip.samples)))
        }
        let total = recordings.reduce(0) { $0 + $1.speechSeconds }
        guard total >= minimumSpeechSeconds else {
            throw .tooLittleSpeech(total: total, minimum: minimumSpeechSeconds,
                                   perRecording: Dictionary(recordings.map { ($0.path, $0.speechSeconds) }, uniquingKeysWith: +))
        }
        return SpeakerProfile(name: name, modelChecksum: model.checksum, embedding: meanEmbedding(embeddings, model: model),
                              recordings: recordings)
    }

    /// A profile's embedding from its recordings' embeddings (`Embedder` output, at least one): the mean of
    /// the unit vectors, or for a MagNetO model of the `a·x̂` vectors (a score is then the mean of the
    /// per-recording LLRs).
    public static func meanEmbedding(_ embeddings: [[Float]], model: SpeakerModel) -> [Float] {
        precondition(!embeddings.isEmpty, "meanEmbedding: no embedding")
        var sum = [Double](repeating: 0, count: model.embeddingSize)
        for embedding in embeddings {
            for (i, v) in (model.magnitudeNetwork != nil ? embedding : Cosine.normalized(embedding)).enumerated() { sum[i] += Double(v) }
        }
        return sum.map { Float($0 / Double(embeddings.count)) }
    }
}
