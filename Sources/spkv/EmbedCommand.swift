import ArgumentParser
import Foundation
import SpeakerVerification

struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print one embedding per audio file: PATH v1 v2 … vD.",
        discussion: """
            Files are read with libsndfile (WAV, FLAC, OGG, …), mixed to mono and resampled to the model's rate. \
            Values are printed in the shortest form that reads back to the same 32-bit float. With several files and \
            --threads N, N files are embedded in parallel; the output keeps the input order. A file that fails is \
            reported on stderr and the exit code is 1, after the others were written.
            """)

    @OptionGroup var modelOption: ModelOption
    @Argument(help: "Audio files.") var audio: [String]
    @Option(name: .shortAndLong, help: "Write the embeddings to this file (atomically) instead of stdout.")
    var output: String?
    @Option(help: "Threads (files in parallel; one file uses them inside OpenBLAS).") var threads = 1

    func validate() throws {
        guard !audio.isEmpty else { throw ValidationError("give at least one audio file") }
        try checkRange(threads, OptionRange.threads, "--threads")
    }

    func run() throws {
        try reportingErrors {
            let model = try SpeakerModel.load(path: modelOption.model)
            let progress = Progress("embedding")
            let results = BatchEmbedding.embed(paths: audio, model: model, threads: threads,
                                               progress: audio.count > 1 ? progress.update : nil)
            var text = "", failures = 0
            for (path, result) in zip(audio, results) {
                switch result {
                case .success(let embedding): text += "\(path) \(embedding.spaceSeparated)\n"
                case .failure(let error): printError(error.description); failures += 1
                }
            }
            try TextOutput(path: output).write(text)
            if failures > 0 { throw ReportedFailure("\(failures) of \(audio.count) files failed") }
        }
    }
}
