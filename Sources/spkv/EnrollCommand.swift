import ArgumentParser
import Foundation
import SpeakerVerification

struct Enroll: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build a speaker profile from one or more recordings, or from the live microphone.",
        discussion: """
            The profile holds the mean of the recordings' length-normalised embeddings, the model's checksum (a \
            profile only works with the model that made it), and each recording's duration and detected speech. \
            Too little speech over all recordings (energy-based voice activity detection) is an error. With --live \
            the recording is captured from an ALSA device for --duration seconds (or until Ctrl-C).
            """)

    @OptionGroup var modelOption: ModelOption
    @Option(help: "The speaker's name.") var name: String
    @Argument(help: "Enrollment recordings (none with --live).") var audio: [String] = []
    @Option(name: .shortAndLong, help: "Profile file to write (JSON, written atomically).") var output: String
    @Option(name: .customLong("min-speech"), help: "Seconds of detected speech required over all recordings.")
    var minimumSpeech = Enrollment.defaultMinimumSpeechSeconds
    @OptionGroup var liveOptions: LiveOptions

    func validate() throws {
        if liveOptions.live { guard audio.isEmpty else { throw ValidationError("give recordings or --live, not both") } }
        else { guard !audio.isEmpty else { throw ValidationError("give at least one recording, or --live") } }
        try checkRange(minimumSpeech, 0...86_400, "--min-speech", unit: " s")
        try liveOptions.check()
    }

    func run() throws {
        try reportingErrors {
            let model = try SpeakerModel.load(path: modelOption.model)
            let profile: SpeakerProfile
            if liveOptions.live {
                let capture = try liveOptions.openCapture(modelRate: model.features.sampleRate)
                let session = try LiveSession(recordingFor: model, inputRate: capture.sampleRate,
                                              maximumSeconds: try liveOptions.maximumSeconds())
                FileHandle.standardError.write(Data("recording from '\(liveOptions.device)'\(liveOptions.duration.map { " for \($0) s" } ?? "; Ctrl-C to stop")\n".utf8))
                _ = try liveOptions.run(session, capture: capture)
                profile = try Enrollment.enroll(name: name, recordings: [("live:\(liveOptions.device)", session.recording)], model: model,
                                                minimumSpeechSeconds: minimumSpeech)
            } else {
                profile = try Enrollment.enroll(name: name, paths: audio, model: model, minimumSpeechSeconds: minimumSpeech)
            }
            try profile.write(path: output)
            print(String(format: "enrolled %@ from %d recording(s), %.2f s of speech; wrote %@",
                         name, profile.recordings.count, profile.speechSeconds, output))
        }
    }
}
