import ArgumentParser
import Foundation
import SpeakerVerification

struct Features: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the normalised log-mel features the encoder would see, as a float32 .npy (frames × mels).",
        discussion: "Use it to compare spkv's front end with another toolkit's when you suspect a mismatch.")

    @Option(name: .shortAndLong, help: "Take the front end from this model file.") var model: String?
    @Option(name: .customLong("front-end"),
            help: "A preset instead of a model: \(FeatureConfig.presetNames.joined(separator: ", ")).")
    var frontEnd: String?
    @Flag(help: "Write log-mel before the per-utterance normalisation.") var unnormalized = false
    @Argument(help: "Audio file.") var audio: String
    @Option(name: .shortAndLong, help: "Output .npy file.") var output: String

    func validate() throws {
        guard (model == nil) != (frontEnd == nil) else { throw ValidationError("give exactly one of --model or --front-end") }
        if let frontEnd, FeatureConfig.preset(named: frontEnd) == nil {
            throw ValidationError("unknown front end '\(frontEnd)'; valid: \(FeatureConfig.presetNames.joined(separator: ", "))")
        }
    }

    func run() throws {
        try reportingErrors {
            let extractor = try model.map { try SpeakerModel.load(path: $0).frontEnd }
                ?? FeatureExtractor(config: FeatureConfig.preset(named: frontEnd!)!)
            let clip = try AudioFile.readMono(path: audio, sampleRate: extractor.config.sampleRate)
            let matrix: FeatureMatrix
            do throws(FeatureError) { matrix = try extractor.extract(clip.samples, stage: unnormalized ? .logMel : .normalized) } catch {
                throw EmbeddingError.features(source: audio, error)
            }
            try NumpyArray.write(path: output, shape: [matrix.frames, matrix.mels], values: matrix.transposed())
        }
    }
}
