import ArgumentParser
import SVAutograd
import SVCorpus

@main
struct SPKVTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spkv-train",
        abstract: "Training tool for spkv: corpus preparation, training, export of spkv model files.",
        subcommands: [CorpusCommand.self, TrainCommand.self, ExportCommand.self, MagNetOCommand.self, SSPSReportCommand.self,
                      BenchCommand.self])
}
