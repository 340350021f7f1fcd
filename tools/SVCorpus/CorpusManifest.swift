/// One utterance of a VoxCeleb-like corpus: speaker → recording (one channel) → utterance.
public struct CorpusUtterance: Codable, Equatable, Sendable {
    public var id: String
    public var speaker: String
    public var recording: String
    public var path: String

    public init(id: String, speaker: String, recording: String, path: String) {
        self.id = id; self.speaker = speaker; self.recording = recording; self.path = path
    }
}
