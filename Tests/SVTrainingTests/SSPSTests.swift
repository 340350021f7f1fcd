import Foundation
import Testing
import SVAutograd
import SVModels
import _SVTestSupport
@testable import SVTraining

/// SSPS memory queues, pseudo-positive draws, substitution, and SSPS stages of real runs.
@Suite struct SSPSSamplingTests {
    /// A memory whose Q′ row j holds dataset index `positives[j]` with embedding (j, 0, …).
    func memory(reference: [Int], positives: [Int], dimension: Int = 3) -> SSPSMemory {
        let m = SSPSMemory(referenceCapacity: reference.count, positiveCapacity: positives.count, dimension: dimension)
        // Write Q̂ and Q′ one row at a time (step = row, batch of 1): positions are row mod capacity.
        for j in 0..<max(reference.count, positives.count) {
            var e = [Float](repeating: 0, count: dimension); e[0] = Float(j)
            m.write(step: j, indices: [j < positives.count ? positives[j] : reference[j]], references: e, positives: e)
        }
        return m
    }

    @Test func queuesAreRingBuffersRestartingEachEpoch() throws {
        let m = SSPSMemory(referenceCapacity: 6, positiveCapacity: 4, dimension: 2)
        #expect(!m.isFilled && m.referenceIndices == [-1, -1, -1, -1, -1, -1])
        m.write(step: 0, indices: [10, 11], references: [1, 1, 2, 2], positives: [5, 5, 6, 6])
        m.write(step: 1, indices: [12, 13], references: [3, 3, 4, 4], positives: [7, 7, 8, 8])
        m.write(step: 2, indices: [14, 15], references: [5, 5, 6, 6], positives: [9, 9, 10, 10])
        #expect(m.isFilled)
        #expect(m.referenceIndices == [10, 11, 12, 13, 14, 15])
        // Q′ (capacity 4) wraps: step 2 writes rows 0 and 1 again.
        #expect(m.positiveIndices == [14, 15, 12, 13])
        #expect(m.positiveEmbeddings == [9, 9, 10, 10, 7, 7, 8, 8])
        #expect(m.bytes == (6 + 4) * 3 * 4)
        // Checkpoint round trip; a mis-sized queue is an error; absent queues are reported as such.
        let copy = SSPSMemory(referenceCapacity: 6, positiveCapacity: 4, dimension: 2)
        #expect(try copy.restore(m.tensors.mapValues(\.values), path: "ck"))
        #expect(copy.referenceIndices == m.referenceIndices && copy.positiveEmbeddings == m.positiveEmbeddings)
        #expect(try !copy.restore([:], path: "ck"))
        let other = SSPSMemory(referenceCapacity: 8, positiveCapacity: 4, dimension: 2)
        #expect(throws: TrainingError.self) { try other.restore(m.tensors.mapValues(\.values), path: "ck") }
    }

    @Test func clusterDrawsFollowTheNeighbourTable() {
        // Q′ slots 0…5 hold utterances 0,1,2,3,0,4; utterance 0 is stored twice (slots 0 and 4).
        let m = memory(reference: [0, 1, 2, 3, 4, 5], positives: [0, 1, 2, 3, 0, 4])
        // Clusters: {0, 1} → 0, {2, 3} → 1, {4} → 2, 5 → 3 (empty in Q′), 6 absent from Q̂ (−1).
        let assignments: [Int32] = [0, 0, 1, 1, 2, 3, -1]
        let same = SSPSEpochClusters(assignments: assignments, neighbours: [[0], [1], [2], [3]], clusterCount: 4)
        let anchors = [1, 3, 4, 5, 6]
        for step in 0..<50 {
            let picks = PositiveSampler.drawFromClusters(anchors: anchors, memory: m, clusters: same, seed: 9, epoch: 2, step: step)
            // Utterance 1 (cluster 0): slots of utterances 0 or 1; utterance 0 resolves to its LAST slot (4).
            #expect(picks[0] == 1 || picks[0] == 4)
            #expect(picks[1] == 2 || picks[1] == 3)
            #expect(picks[2] == 5)
            #expect(picks[3] == nil, "cluster 3 has no Q′ slot: the anchor keeps its positive")
            #expect(picks[4] == nil, "utterance 6 is not in Q̂")
        }
        // M = 1: always the neighbouring cluster, never the own one.
        let next = SSPSEpochClusters(assignments: assignments, neighbours: [[1], [0], [1], [2]], clusterCount: 4)
        var seen = Set<Int>()
        for step in 0..<50 {
            let picks = PositiveSampler.drawFromClusters(anchors: [0, 2, 4], memory: m, clusters: next, seed: 9, epoch: 0, step: step)
            #expect(picks[0] == 2 || picks[0] == 3)
            #expect(picks[1] == 1 || picks[1] == 4)
            #expect(picks[2] == 2 || picks[2] == 3)
            seen.formUnion(picks.compactMap { $0 })
        }
        #expect(seen == [1, 2, 3, 4], "uniform draws reach every candidate")
        // Deterministic in (seed, epoch, step, row), and the seed matters.
        let a = (0..<20).map { PositiveSampler.drawFromClusters(anchors: [0, 1, 2, 3], memory: m, clusters: same, seed: 1, epoch: 0, step: $0) }
        let b = (0..<20).map { PositiveSampler.drawFromClusters(anchors: [0, 1, 2, 3], memory: m, clusters: same, seed: 1, epoch: 0, step: $0) }
        let c = (0..<20).map { PositiveSampler.drawFromClusters(anchors: [0, 1, 2, 3], memory: m, clusters: same, seed: 2, epoch: 0, step: $0) }
        #expect(a == b && a != c)
    }

    @Test func nearestNeighbourDrawsExcludeTheAnchor() {
        // Reference rows on the unit circle at angles 0, 10, 20, …, 70 degrees, utterances 0…7.
        let n = 8, d = 2
        let m = SSPSMemory(referenceCapacity: n, positiveCapacity: n, dimension: d)
        for j in 0..<n {
            let a = Double(j) * 10 * .pi / 180
            m.write(step: j, indices: [j], references: [Float(cos(a)), Float(sin(a))], positives: [Float(j), 0])
        }
        // The anchor is utterance 3 (at 30°); its query is its own direction.
        let q: [Float] = [Float(cos(Double.pi / 6)), Float(sin(Double.pi / 6))]
        var seen = Set<Int>()
        for step in 0..<60 {
            let p = PositiveSampler.drawNearest(anchors: [3], references: q, memory: m, m: 2, seed: 4, epoch: 0, step: step)
            let slot = try! #require(p[0])
            #expect(slot == 2 || slot == 4, "the two nearest rows other than the anchor's own")
            seen.insert(slot)
        }
        #expect(seen == [2, 4])
        let one = PositiveSampler.drawNearest(anchors: [0], references: [1, 0], memory: m, m: 1, seed: 4, epoch: 0, step: 0)
        #expect(one == [1])
    }

    @Test func substitutedRowsAreDetached() throws {
        var config = TrainingConfig()
        config.ssps.enabled = true
        config.ssps.positiveQueue = 4
        config.batchSize = 4
        config.model = ECAPAConfig(inputSize: 40, channels: [16, 16, 16, 16, 48], res2netScale: 4, seChannels: 8,
                                   attentionChannels: 8, embeddingSize: 3)
        let stepper = TrainingStep(config: config, speakerCount: 1, referenceCapacity: 4)
        let memory = try #require(stepper.memory)
        memory.write(step: 0, indices: [7, 8, 9, 10], references: [Float](repeating: 0.5, count: 12),
                     positives: (0..<12).map { Float($0) + 100 })
        let g = Graph(training: true)
        let z2 = Variable(Tensor(shape: [4, 3], values: (0..<12).map { Float($0) / 10 }), role: .constant, requiresGrad: true)
        let out = stepper.substitute(g, z2, picks: [nil, 2, nil, 0], memory: memory)
        #expect(out.values == [0, 0.1, 0.2, 106, 107, 108, 0.6, 0.7, 0.8, 100, 101, 102])
        g.backward(from: g.sum(g.mul(out, out)))
        let grad = try #require(z2.grad)
        // d/dz of Σ out² is 2z on kept rows and exactly 0 on substituted ones.
        #expect(grad == [0, 0.2, 0.4, 0, 0, 0, 1.2, 1.4, 1.6, 0, 0, 0])
    }
}

/// SSPS stages of real (tiny) runs: base SimCLR → SSPS fine-tuning from its checkpoint.
@Suite(.serialized) struct SSPSRunTests {
    let fixture = TinyCorpusFixture.shared

    func sspsConfig(_ extra: [String] = []) throws -> TrainingConfig {
        try fixture.config("simclr", ["epochs=3", "ssps.enabled=true", "ssps.clusters=4", "ssps.positive_queue=8",
                                      "ssps.reference_seconds=1"] + extra)
    }

    @Test(arguments: ["kmeans-repr", "knn"])
    func sspsStageContinuesTheBaseRun(sampling: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let base = try Trainer(config: try fixture.config("simclr"), runDirectory: dir.path("base"), resume: false)
        let baseLog = try base.run()
        let neighbours = sampling == "knn" ? "3" : "1"
        let ssps = try Trainer(config: try sspsConfig(["init_from=\(dir.path("base"))", "ssps.sampling=\(sampling)",
                                                     "ssps.neighbours=\(neighbours)"]),
                               runDirectory: dir.path("ssps"), resume: false)
        // The stage starts where the base ended: same weights, optimiser state, epoch and log.
        #expect(ssps.epochsDone == 1 && ssps.log.map(\.deterministicPart) == baseLog.map(\.deterministicPart))
        #expect(ssps.model.parameters.map(\.values) == base.model.parameters.map(\.values))
        #expect(ssps.optimizer.stepCount == base.optimizer.stepCount)
        let log = try ssps.run()
        #expect(log.count == 3 && log[0].ssps == nil)
        for row in log.dropFirst() {
            let s = try #require(row.ssps, "SSPS epochs log their diagnostics")
            #expect(s.coverage > 0 && s.coverage <= 1, "\(s)")
            #expect((0...1).contains(s.sameSpeaker) && (0...1).contains(s.otherRecording))
            if sampling == "kmeans-repr" {
                #expect(s.nmiSpeaker.map { (0...1).contains($0) } == true && s.nmiRecording.map { (0...1).contains($0) } == true)
            } else {
                #expect(s.nmiSpeaker == nil)
            }
        }
        let memory = try #require(ssps.stepper.memory)
        #expect(memory.isFilled)
        #expect(memory.referenceCapacity == (sampling == "knn" ? 8 : 16) && memory.positiveCapacity == 8)
        // log.csv round-trips the SSPS columns through the checkpoint.
        let ck = try TrainingCheckpoint.read(path: dir.path("ssps/checkpoint-epoch003.safetensors"))
        #expect(ck.log.map(\.deterministicPart) == log.map(\.deterministicPart))
        #expect(ck.log.last?.ssps == log.last?.ssps.map { SSPSEpochStats(csv: $0.csv.split(separator: ",", omittingEmptySubsequences: false).map(String.init))! })
        #expect(ck.config.methodName == "simclr-ssps")
    }

    @Test func sspsResumeContinuesExactly() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        _ = try Trainer(config: try fixture.config("simclr"), runDirectory: dir.path("base"), resume: false).run()
        let full = try Trainer(config: try sspsConfig(["init_from=\(dir.path("base"))"]), runDirectory: dir.path("a"), resume: false)
        let fullLog = try full.run()
        var first = try sspsConfig(["init_from=\(dir.path("base"))"])
        first.epochs = 2
        _ = try Trainer(config: first, runDirectory: dir.path("b"), resume: false).run()
        let resumed = try Trainer(config: try sspsConfig(["init_from=\(dir.path("base"))"]), runDirectory: dir.path("b"), resume: true)
        let resumedLog = try resumed.run()
        #expect(fullLog.map(\.deterministicPart) == resumedLog.map(\.deterministicPart))
        let a = try TrainingCheckpoint.read(path: dir.path("a/checkpoint-epoch003.safetensors"))
        let b = try TrainingCheckpoint.read(path: dir.path("b/checkpoint-epoch003.safetensors"))
        #expect(a.tensors.keys.contains("ssps.positive.embedding"))
        for (name, values) in a.tensors { #expect(values == b.tensors[name]!, "\(name) differs") }
    }

    /// Two stages from one base with different seeds start from the same weights and log but draw
    /// their own crops and augmentation.
    @Test func aStageMayDrawWithItsOwnSeed() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let base = try fixture.config("simclr")
        _ = try Trainer(config: base, runDirectory: dir.path("base"), resume: false).run()
        let sameSeed = try Trainer(config: try sspsConfig(["init_from=\(dir.path("base"))"]), runDirectory: dir.path("a"), resume: false).run()
        let otherSeed = try Trainer(config: try sspsConfig(["init_from=\(dir.path("base"))", "seed=\(base.seed + 1)"]),
                                    runDirectory: dir.path("b"), resume: false).run()
        // Same base epochs in both logs, then different losses in the stage's own epochs.
        let baseEpochs = try TrainingCheckpoint.read(path: TrainingCheckpoint.lastPath(runDirectory: dir.path("base"))).epoch
        #expect(baseEpochs >= 1 && sameSeed.count == otherSeed.count && sameSeed.count > baseEpochs)
        #expect(sameSeed.prefix(baseEpochs).map(\.deterministicPart) == otherSeed.prefix(baseEpochs).map(\.deterministicPart))
        #expect(sameSeed[baseEpochs].loss != otherSeed[baseEpochs].loss)
        let ck = try TrainingCheckpoint.read(path: TrainingCheckpoint.lastPath(runDirectory: dir.path("b")))
        #expect(ck.config.seed == base.seed + 1)
    }

    @Test func configErrorsNameTheProblem() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        #expect { try fixture.config("supervised", ["ssps.enabled=true"]) } throws: { "\($0)".contains("ssps.enabled") }
        #expect { try fixture.config("simclr", ["ssps.enabled=true", "ssps.clusters=2", "ssps.neighbours=2"]) } throws: {
            "\($0)".contains("ssps.neighbours")
        }
        #expect { try fixture.config("simclr", ["ssps.enabled=true", "ssps.sampling=nearest"]) } throws: { "\($0)".contains("ssps.sampling") }
        _ = try Trainer(config: try fixture.config("simclr"), runDirectory: dir.path("base"), resume: false).run()
        // A base run with another architecture or learning rate is refused, naming init_from.
        #expect { try Trainer(config: try sspsConfig(["init_from=\(dir.path("base"))", "lr=0.01"]), runDirectory: dir.path("x"), resume: false) } throws: {
            "\($0)".contains("init_from")
        }
        // Oracle-positive SimCLR may continue a SimCLR base (the upper bound of an SSPS stage); a supervised stage may not.
        let oracle = try Trainer(config: try fixture.config("simclr-oracle", ["init_from=\(dir.path("base"))", "epochs=2"]),
                                 runDirectory: dir.path("oracle"), resume: false)
        #expect(try oracle.run().count == 2)
        #expect { try Trainer(config: try fixture.config("supervised", ["init_from=\(dir.path("base"))", "epochs=2"]), runDirectory: dir.path("s"),
                              resume: false) } throws: { "\($0)".contains("init_from") }
        #expect { try Trainer(config: try sspsConfig(["init_from=\(dir.path("nowhere"))"]), runDirectory: dir.path("y"), resume: false) } throws: {
            "\($0)".contains("nowhere")
        }
        #expect { try Trainer(config: try sspsConfig(["init_from=\(dir.path("base"))", "epochs=1"]), runDirectory: dir.path("z"), resume: false) } throws: {
            "\($0)".contains("nothing to train")
        }
    }
}
