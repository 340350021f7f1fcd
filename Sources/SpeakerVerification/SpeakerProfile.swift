import Foundation
import SVFiles
import SVModels

/// An enrolled speaker: the mean of the length-normalised embeddings of their recordings, tied to
/// the model that produced them. Stored as JSON (`spkv-profile`, versioned, with a CRC-32 of the
/// embedding so a damaged file is refused rather than silently scored).
public struct SpeakerProfile: Codable, Equatable, Sendable {
    public static let formatName = "spkv-profile"
    public static let currentVersion = 1

    public struct Recording: Codable, Equatable, Sendable {
        public var path: String
        public var seconds: Double
        public var speechSeconds: Double
        enum CodingKeys: String, CodingKey { case path, seconds, speechSeconds = "speech_seconds" }
    }

    public var format = SpeakerProfile.formatName
    public var version = SpeakerProfile.currentVersion
    public var name: String
    /// `spkv info`'s data CRC-32 of the model the embeddings came from.
    public var modelChecksum: String
    public var embedding: [Float]
    public var recordings: [Recording]
    public var created: String
    /// CRC-32 of the embedding's little-endian float bytes (hex).
    public var embeddingCRC32: String

    enum CodingKeys: String, CodingKey {
        case format, version, name, embedding, recordings, created
        case modelChecksum = "model_checksum", embeddingCRC32 = "embedding_crc32"
    }

    public init(name: String, modelChecksum: String, embedding: [Float], recordings: [Recording], created: Date = Date()) {
        self.name = name
        self.modelChecksum = modelChecksum
        self.embedding = embedding
        self.recordings = recordings
        self.created = ISO8601DateFormatter().string(from: created)
        embeddingCRC32 = Self.crc(embedding)
    }

    public var speechSeconds: Double { recordings.reduce(0) { $0 + $1.speechSeconds } }

    static func crc(_ values: [Float]) -> String {
        var crc = CRC32()
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { crc.update($0) } }
        return crc.hex
    }

    // MARK: - Files

    public static func read(path: String) throws(ProfileError) -> SpeakerProfile {
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path: path) }
        let profile: SpeakerProfile
        do { profile = try JSONDecoder().decode(SpeakerProfile.self, from: data) } catch {
            throw .malformed(path: path, reason: SpeakerModel.describe(error))
        }
        guard profile.format == formatName else { throw .malformed(path: path, reason: "not an spkv profile (format '\(profile.format)')") }
        guard profile.version <= currentVersion else {
            throw .unsupportedVersion(path: path, found: profile.version, supported: currentVersion)
        }
        guard !profile.embedding.isEmpty, profile.embedding.allSatisfy(\.isFinite) else {
            throw .malformed(path: path, reason: "the embedding is empty or not finite")
        }
        guard crc(profile.embedding) == profile.embeddingCRC32 else {
            throw .corrupt(path: path, stored: profile.embeddingCRC32, computed: crc(profile.embedding))
        }
        return profile
    }

    /// Writes the profile atomically (`AtomicFile`).
    public func write(path: String) throws(ProfileError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let data: Data
        do { data = try encoder.encode(self) } catch { throw .unwritable(path: path, reason: "\(error)") }
        do { try AtomicFile.write(data, to: path) } catch { throw .unwritable(path: path, reason: error.description) }
    }

    /// Refuses a profile made with another model: its embeddings live in a different space.
    public func checkCompatible(with model: SpeakerModel, profilePath: String) throws(ProfileError) {
        guard modelChecksum == model.checksum, embedding.count == model.embeddingSize else {
            throw .modelMismatch(path: profilePath, profileModel: modelChecksum, model: model.checksum)
        }
    }
}

public enum ProfileError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String)
    case malformed(path: String, reason: String)
    case unsupportedVersion(path: String, found: Int, supported: Int)
    case corrupt(path: String, stored: String, computed: String)
    case unwritable(path: String, reason: String)
    case modelMismatch(path: String, profileModel: String, model: String)

    public var description: String {
        switch self {
        case .unreadable(let path): return "\(path): cannot read the enrollment profile (missing or unreadable)"
        case .malformed(let path, let reason): return "\(path): not a valid enrollment profile: \(reason)"
        case .unsupportedVersion(let path, let found, let supported):
            return "\(path): profile version \(found) is newer than this spkv supports (\(supported)); upgrade spkv"
        case .corrupt(let path, let stored, let computed):
            return "\(path): the profile is corrupt (embedding CRC-32 \(computed), stored \(stored)); enroll again"
        case .unwritable(let path, let reason): return "cannot write \(path): \(reason)"
        case .modelMismatch(let path, let profileModel, let model):
            return "\(path) was enrolled with model \(profileModel), not with this model (\(model)); enroll again with this model or use the original one"
        }
    }
}
