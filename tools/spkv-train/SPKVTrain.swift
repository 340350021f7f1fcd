import ArgumentParser
import SVAutograd
import SVCorpus
import SVTraining

@main
struct SPKVTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spkv-train",
        abstract: "Training tool for spkv: corpus preparation, training, export of spkv model files.",
        subcommands: [CorpusCommand.self, TrainCommand.self, ExportCommand.self, MagNetOCommand.self, SSPSReportCommand.self,
                      BenchCommand.self])

    static func main() {
        ProcessMemory.retainFreedBlocks()
        main(nil)
    }
}

/// Numeric options are checked against a range in `validate()`: outside it is a usage error (exit 64),
/// never a trap in a conversion or an allocation sized by the value. NaN is outside every range.
func checkRange<T: Comparable>(_ value: T, _ range: ClosedRange<T>, _ option: String) throws {
    guard range.contains(value) else { throw ValidationError("\(option) must be from \(range.lowerBound) to \(range.upperBound); got \(value)") }
}
