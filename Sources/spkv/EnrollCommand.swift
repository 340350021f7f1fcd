import ArgumentParser
import Foundation
import SpeakerVerification

struct Enroll: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build a speaker profile from one or more recordings.",
        discussion: """
            The profile holds the mean of the recordings' length-normalised embeddings, the model's checksum (a \
            profile only works with the model that made it), and each recording's duration and detected speech. \
            Too little speech over all recordings (energy-based voice activity detection) is an error.
            """)

    @OptionGroup var modelOption: ModelOption
    @Option(help: "The speaker's name.") var name: String
    @Argument(help: "Enrollment recordings.") var audio: [String]
    @Option(name: .shortAndLong, help: "Profile file to write (JSON, written atomically).") var output: String
    @Option(name: .customLong("min-speech"), help: "Seconds of detected speech required over all recordings.")
    var minimumSpeech = Enrollment.defaultMinimumSpeechSeconds

    func validate() throws {
        guard !audio.isEmpty else { throw ValidationError("give at least one recording") }
        guard minimumSpeech >= 0, minimumSpeech.isFinite else { throw ValidationError("--min-speech must be ≥ 0") }
    }

    func run() throws {
        try reportingErrors {
            let model = try SpeakerModel.load(path: modelOption.model)
            let profile = try Enrollment.enroll(name: name, paths: audio, model: model, minimumSpeechSeconds: minimumSpeech)
            try profile.write(path: output)
            print(String(format: "enrolled %@ from %d recording(s), %.2f s of speech; wrote %@",
                         name, audio.count, profile.speechSeconds, output))
        }
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Is this recording the enrolled speaker? Prints score, decision and threshold.",
        discussion: """
            Exit code: 0 accept, 2 reject, 1 error. The threshold is --threshold when given; otherwise the model must \
            be calibrated (spkv calibrate) and the decision is taken at the Bayes threshold log((1 − P)/P) of its \
            log-likelihood ratios for the target prior P (--prior, default 0.01). No built-in constant is used.
            """)

    @OptionGroup var modelOption: ModelOption
    @Option(help: "Enrollment profile (spkv enroll).") var enrollment: String
    @Argument(help: "Recording to verify.") var audio: String
    // `.unconditional`: LLR thresholds are often negative, and "-0.5" must not be taken for an option.
    @Option(parsing: .unconditional, help: "Accept when the score (LLR if calibrated, else cosine) is at least this.")
    var threshold: Double?
    @Option(help: "Target prior for the Bayes threshold of a calibrated model.") var prior = 0.01
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        guard prior > 0, prior < 1 else { throw ValidationError("--prior must be between 0 and 1 (exclusive)") }
        if let threshold, !threshold.isFinite { throw ValidationError("--threshold must be finite") }
    }

    func run() throws {
        var accepted = false
        try reportingErrors {
            let model = try SpeakerModel.load(path: modelOption.model)
            let profile = try SpeakerProfile.read(path: enrollment)
            let r = try Verification.verify(profile: profile, profilePath: enrollment, audioPath: audio, model: model,
                                            threshold: threshold, prior: prior)
            accepted = r.accepted
            if json {
                var object: [String: Any] = ["audio": audio, "speaker": profile.name, "cosine": r.cosine, "score": r.score,
                                             "threshold": r.threshold, "threshold_source": r.thresholdSource,
                                             "decision": r.accepted ? "accept" : "reject"]
                if let llr = r.llr { object["llr"] = llr }
                print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
            } else {
                print("speaker:   \(profile.name)")
                print("score:     \(r.score)\(r.llr != nil ? " (calibrated LLR; cosine \(r.cosine))" : " (cosine)")")
                print("threshold: \(r.threshold) (\(r.thresholdSource))")
                print("decision:  \(r.accepted ? "accept" : "reject")")
            }
        }
        if !accepted { throw ExitCode(2) }
    }
}
