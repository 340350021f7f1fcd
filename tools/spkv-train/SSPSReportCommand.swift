import ArgumentParser
import Foundation
import SVTraining

/// `spkv-train ssps-report CHECKPOINT`: label-free diagnostics of an SSPS run's memory.
struct SSPSReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ssps-report",
        abstract: "Cluster sizes, source purity and pseudo-positive statistics of an SSPS checkpoint's memory queues.",
        discussion: """
        Clusters the checkpoint's Q̂ exactly as its next epoch would and draws one pseudo-positive per \
        stored utterance. Needs no speaker labels: sources (manifest `engine`) share no speaker, and a \
        `speaker_hint` in the manifest (game import) is checked against chance. Same-speaker share and \
        NMI against speakers use labeled utterances only.
        """)

    @Argument(help: "An SSPS run's checkpoint-epochNNN.safetensors, checkpoint-last pointer or run folder.") var checkpoint: String
    @Option(name: .long, help: "Corpus folder (default: the one in the checkpoint's config).") var corpus: String?

    func run() throws {
        let path = try TrainingCheckpoint.resolve(checkpoint)
        let ck = try TrainingCheckpoint.read(path: path)
        guard ck.config.ssps.enabled, ck.config.ssps.sampling == .kmeans else {
            throw TrainingError.run("\(path) is not from an SSPS run with k-means sampling (ssps.enabled, ssps.sampling=kmeans-repr)")
        }
        guard let reference = ck.shapes["ssps.reference.embedding"], reference.count == 2,
              let positive = ck.shapes["ssps.positive.embedding"], positive.count == 2 else {
            throw TrainingError.checkpoint(path: path, reason: "holds no SSPS queues")
        }
        let memory = SSPSMemory(referenceCapacity: reference[0], positiveCapacity: positive[0],
                                dimension: reference[1], positiveDimension: positive[1])
        _ = try memory.restore(ck.tensors, path: path)
        let data = try TrainingCorpus(path: corpus ?? ck.config.corpus)
        guard ck.corpusID.isEmpty || ck.corpusID == data.id else {
            throw TrainingError.corpus(path: data.path, reason: "is not the corpus this run trained on (id \(data.id), checkpoint \(ck.corpusID))")
        }
        guard (memory.referenceIndices + memory.positiveIndices).allSatisfy({ $0 < data.train.count }) else {
            throw TrainingError.corpus(path: data.path, reason: "has fewer training utterances than the checkpoint's queues index")
        }
        print("\(path): epoch \(ck.epoch), clustering of epoch \(ck.epoch + 1)")
        print(SSPSClusterReport.make(memory: memory, config: ck.config, corpus: data, epoch: ck.epoch).text)
    }
}
