import ArgumentParser
import Foundation
import SVTraining

/// `spkv-train export CHECKPOINT --output MODEL`.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write an spkv model file from a training checkpoint, with provenance (method, config, corpus, epochs, EER).")

    @Argument(help: "A checkpoint-epochNNN.safetensors, a checkpoint-last pointer, or a run folder.") var checkpoint: String
    @Option(name: .long, help: "Model file to write.") var output: String
    @Option(name: .long, help: "Average the model tensors of the last N epochs' checkpoints (the reference averages 10).")
    var average: Int = 1
    @Flag(name: .customLong("float"), help: "For a QAT run: write the fp32 model of its weights instead of the int8 model (to separate quantisation from training).")
    var float = false

    func validate() throws { try checkRange(average, 1...1_000, "--average") }

    func run() throws {
        // TrainingError propagates: ArgumentParser prints its description and exits with status 1.
        do {
            let path = try TrainingCheckpoint.resolve(checkpoint)
            let last = try TrainingCheckpoint.read(path: path)
            let (ck, epochs) = try TrainingCheckpoint.averaged(runDirectory: (path as NSString).deletingLastPathComponent,
                                                               last: last, count: average)
            let file = try ModelExport.modelFile(checkpoint: ck, checkpointPath: path, averagedEpochs: epochs, quantized: !float)
            do { try file.write(path: output) } catch { throw TrainingError.run("cannot write \(output): \(error)") }
            print("wrote \(output): \(ck.config.methodName)\(float && ck.config.qat.enabled ? " (fp32 weights)" : ""), \(ck.epoch) epochs"
                  + (average > 1 ? " (epochs \(epochs.lowerBound)-\(epochs.upperBound) averaged)" : "")
                  + (ck.lastValidationEER.map { String(format: ", validation EER %.2f %%", $0) } ?? ""))
        }
    }
}
