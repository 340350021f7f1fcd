import Foundation
import Testing
import SVTraining
import _SVTestSupport

/// `spkv-train` as a user runs it: a run killed with SIGKILL mid-epoch resumes with `--resume` and
/// ends with the same parameters as an uninterrupted run; bad configs and corpora are one-line errors.
@Suite(.serialized) struct CLITrainingTests {
    /// C = 16, 0.5 s crops, batch 4: a few seconds per epoch even in a debug build.
    static let config = """
        {"method": "simclr-oracle", "batch_size": 4, "crop_seconds": 0.5, "epochs": 4, "lr": 0.002, "threads": 1,
         "augmentation": "reverb+noise",
         "model": {"channels": [16, 16, 16, 16, 48], "res2net_scale": 4, "se_channels": 8,
                   "attention_channels": 8, "embedding_size": 8}}
        """

    func checkpointEpoch(_ run: String) -> Int? {
        guard let name = try? String(contentsOfFile: run + "/checkpoint-last", encoding: .utf8) else { return nil }
        return Int(name.filter(\.isNumber).suffix(3))
    }

    @Test func killedRunResumesToTheSameModel() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try TinyCorpus.write(to: dir.path("corpus"), trainSpeakers: 4, devSpeakers: 2, utterances: 4)
        try Data(Self.config.utf8).write(to: URL(fileURLWithPath: dir.path("config.json")))
        let common = ["train", "--config", dir.path("config.json"), "--corpus", dir.path("corpus"), "--quiet"]

        let full = try spkv(common + ["--out", dir.path("full")], binary: "spkv-train")
        #expect(full.status == 0, "\(full)")

        // Start the same run, SIGKILL it as soon as the first epoch's checkpoint is there (mid epoch 2).
        let killed = dir.path("killed")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try SPKVBinary.require(named: "spkv-train"))
        process.arguments = common + ["--out", killed]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(600)
        while checkpointEpoch(killed) == nil && process.isRunning && Date() < deadline { usleep(5_000) }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "the run ended before it could be killed")
        let epochAtKill = try #require(checkpointEpoch(killed))
        #expect(epochAtKill < 4, "killed after the last epoch: nothing left to resume")
        // Every checkpoint left behind is whole (atomic writes).
        for name in try FileManager.default.contentsOfDirectory(atPath: killed) where name.hasPrefix("checkpoint-epoch") {
            #expect(name.hasSuffix(".safetensors"), "a temporary file was left: \(name)")
            _ = try TrainingCheckpoint.read(path: "\(killed)/\(name)")
        }

        let resumed = try spkv(["train", "--out", killed, "--corpus", dir.path("corpus"), "--resume", "--quiet"], binary: "spkv-train")
        #expect(resumed.status == 0, "\(resumed)")
        #expect(resumed.stdout.contains("resuming \(killed) after epoch \(epochAtKill) of 4"), "\(resumed)")

        let a = try TrainingCheckpoint.read(path: dir.path("full/checkpoint-epoch004.safetensors"))
        let b = try TrainingCheckpoint.read(path: killed + "/checkpoint-epoch004.safetensors")
        #expect(a.tensors.count == b.tensors.count && a.tensors.count > 0)
        for (name, values) in a.tensors { #expect(values == b.tensors[name], "\(name) differs after kill + resume") }
        #expect(a.log.map(\.deterministicPart) == b.log.map(\.deterministicPart))

        // The resumed run exports a model the inference CLI loads.
        let export = try spkv(["export", killed, "--output", dir.path("m.safetensors")], binary: "spkv-train")
        #expect(export.status == 0, "\(export)")
        let info = try spkv("info", dir.path("m.safetensors"))
        #expect(info.status == 0 && info.stdout.contains("simclr-oracle"), "\(info)")
    }

    @Test func badConfigsAndCorporaAreOneLineErrors() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try TinyCorpus.write(to: dir.path("corpus"))
        try Data("{\"method\": \"simclr\", \"epochs\": 3,".utf8).write(to: URL(fileURLWithPath: dir.path("broken.json")))
        try Data(Self.config.utf8).write(to: URL(fileURLWithPath: dir.path("good.json")))
        let cases: [([String], [String])] = [
            (["--config", dir.path("broken.json"), "--corpus", dir.path("corpus")], ["broken.json", "not valid JSON"]),
            (["--config", dir.path("missing.json"), "--corpus", dir.path("corpus")], ["missing.json", "cannot read"]),
            (["--config", dir.path("good.json"), "--corpus", dir.path("corpus"), "--set", "epoks=3"], ["epoks", "unknown key"]),
            (["--config", dir.path("good.json"), "--corpus", dir.path("corpus"), "--set", "batch_size=1"], ["batch_size", "at least 2"]),
            (["--config", dir.path("good.json"), "--corpus", dir.path("nowhere")], ["nowhere", "meta.tsv"]),
            (["--corpus", dir.path("corpus"), "--resume"], ["nothing to resume"]),
        ]
        for (arguments, words) in cases {
            let r = try spkv(["train", "--out", dir.path("run"), "--quiet"] + arguments, binary: "spkv-train")
            #expect(r.status == 1, "\(r)")
            for w in words { #expect(r.stderr.contains(w), "stderr lacks '\(w)': \(r)") }
            #expect(r.stderr.split(separator: "\n").count <= 2, "\(r)")
            for crash in ["Fatal error", "Stack dump", "Backtrace", "Segmentation fault"] { #expect(!r.stderr.contains(crash), "\(r)") }
        }
        // A corpus whose manifest is cut mid-line.
        let meta = dir.path("corpus/meta.tsv")
        let text = try String(contentsOfFile: meta, encoding: .utf8)
        try Data(text.prefix(text.count / 2 + 3).utf8).write(to: URL(fileURLWithPath: meta))
        let r = try spkv(["train", "--out", dir.path("run2"), "--quiet", "--config", dir.path("good.json"), "--corpus", dir.path("corpus")],
                         binary: "spkv-train")
        #expect(r.status == 1 && r.stderr.contains("meta.tsv"), "\(r)")
    }

    @Test func benchTimesTheConfiguredStep() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Data(Self.config.utf8).write(to: URL(fileURLWithPath: dir.path("c.json")))
        let r = try spkv(["bench", "--config", dir.path("c.json"), "--set", "method=supervised", "--threads", "1,2",
                          "--steps", "3", "--warmup", "1", "--json"], binary: "spkv-train")
        #expect(r.status == 0, "\(r)")
        struct Row: Decodable {
            struct Stats: Decodable { let count: Int; let median: Double; let p99: Double }
            let method: String; let channels: Int; let threads: Int; let batchSize: Int
            let step: Stats; let audioSecondsPerSecond: Double
        }
        let rows = try r.stdoutLines.map { try JSONDecoder().decode(Row.self, from: Data($0.utf8)) }
        #expect(rows.map(\.threads) == [1, 2])
        for row in rows {
            #expect(row.method == "supervised" && row.channels == 16 && row.batchSize == 4 && row.step.count == 3)
            #expect(row.step.median > 0 && row.step.p99 >= row.step.median)
            // audio-s/s is batch × crop over the median step.
            #expect(abs(row.audioSecondsPerSecond - 4 * 0.5 / (row.step.median / 1000)) <= 1e-6 * row.audioSecondsPerSecond)
        }
        let bad = try spkv(["bench", "--set", "model.channels=[16]"], binary: "spkv-train")
        #expect(bad.status == 1 && bad.stderr.contains("model.channels"), "\(bad)")
    }

    @Test func dinoTrainsExportsAndShippedConfigsResolve() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try TinyCorpus.write(to: dir.path("corpus"))
        try Data(Self.config.utf8).write(to: URL(fileURLWithPath: dir.path("c.json")))
        let run = try spkv(["train", "--config", dir.path("c.json"), "--corpus", dir.path("corpus"), "--out", dir.path("dino"),
                            "--set", "method=dino", "--set", "epochs=1", "--set", "lr=0.2", "--set", "augmentation=all",
                            "--set", "dino_global_seconds=0.6", "--set", "dino_local_seconds=0.3", "--set", "dino.hidden=32",
                            "--set", "dino.bottleneck=16", "--set", "dino.prototypes=64", "--quiet"], binary: "spkv-train")
        #expect(run.status == 0, "\(run)")
        let export = try spkv(["export", dir.path("dino"), "--output", dir.path("m.safetensors")], binary: "spkv-train")
        #expect(export.status == 0 && export.stdout.contains("dino"), "\(export)")
        let embed = try spkv("embed", "--model", dir.path("m.safetensors"), CLIFixtures.speech("speech_a_3s"))
        #expect(embed.status == 0 && embed.stdoutLines.count == 1, "\(embed)")
        // Every config shipped under tools/configs resolves (bench reads configs without a corpus).
        let configs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../tools/configs").standardized
        let names = try FileManager.default.contentsOfDirectory(atPath: configs.path).filter { $0.hasSuffix(".json") }
        #expect(names.count >= 4)
        for name in names {
            let r = try spkv(["bench", "--config", configs.appendingPathComponent(name).path, "--set", "model.channels=[16,16,16,16,48]",
                              "--set", "model.res2net_scale=4", "--set", "batch_size=2", "--set", "crop_seconds=0.3",
                              "--set", "dino_global_seconds=0.3", "--set", "dino_local_seconds=0.2", "--set", "dino.hidden=16",
                              "--set", "dino.prototypes=32", "--threads", "1", "--steps", "1", "--warmup", "0", "--json"],
                         binary: "spkv-train")
            #expect(r.status == 0, "\(name): \(r)")
        }
    }

    @Test func sspsReportDescribesTheMemoryOfAnSSPSRunOnly() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try TinyCorpus.write(to: dir.path("corpus"), trainSpeakers: 4, devSpeakers: 2, utterances: 4)
        try Data(Self.config.utf8).write(to: URL(fileURLWithPath: dir.path("c.json")))
        let common = ["train", "--config", dir.path("c.json"), "--corpus", dir.path("corpus"), "--set", "method=simclr", "--quiet"]
        let base = try spkv(common + ["--out", dir.path("base"), "--set", "epochs=1"], binary: "spkv-train")
        #expect(base.status == 0, "\(base)")
        let ssps = try spkv(common + ["--out", dir.path("ssps"), "--set", "epochs=2", "--set", "init_from=\(dir.path("base"))",
                                      "--set", "ssps.enabled=true", "--set", "ssps.clusters=4"], binary: "spkv-train")
        #expect(ssps.status == 0, "\(ssps)")
        let report = try spkv(["ssps-report", dir.path("ssps")], binary: "spkv-train")
        #expect(report.status == 0, "\(report)")
        for line in ["epoch 2, clustering of epoch 3", "clusters         4 (", "anchors: coverage", "same speaker", "NMI speakers"] {
            #expect(report.stdout.contains(line), "\(line): \(report)")
        }
        let refused = try spkv(["ssps-report", dir.path("base")], binary: "spkv-train")
        #expect(refused.status == 1 && refused.stderr.contains("not from an SSPS run"), "\(refused)")
    }

    @Test func magnetoTrainsOnAFrozenModelAndItsScoresAreLLRs() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try TinyCorpus.write(to: dir.path("corpus"))
        try Data(Self.config.utf8).write(to: URL(fileURLWithPath: dir.path("c.json")))
        let train = try spkv(["train", "--config", dir.path("c.json"), "--corpus", dir.path("corpus"), "--out", dir.path("run"),
                              "--set", "method=supervised", "--set", "epochs=1", "--quiet"], binary: "spkv-train")
        #expect(train.status == 0, "\(train)")
        #expect(try spkv(["export", dir.path("run"), "--output", dir.path("m.safetensors")], binary: "spkv-train").status == 0)
        let common = ["magneto", "--model", dir.path("m.safetensors"), "--corpus", dir.path("corpus"), "--out", dir.path("mag"),
                      "--speakers-per-batch", "3", "--per-speaker", "3", "--steps", "20", "--decay-steps", "10", "--threads", "1",
                      "--hidden", "8,8"]
        let magneto = try spkv(common + ["--output", dir.path("mag.safetensors"), "--linear-output", dir.path("lin.safetensors")],
                               binary: "spkv-train")
        #expect(magneto.status == 0 && magneto.stdout.contains("global calibrator") && magneto.stdout.contains("wrote"), "\(magneto)")
        #expect(FileManager.default.fileExists(atPath: dir.path("mag/inputs.safetensors")))
        let info = try spkv("info", dir.path("mag.safetensors"))
        #expect(info.status == 0 && info.stdout.contains("MagNetO network") && info.stdout.contains("\"kind\":\"magneto\""), "\(info)")
        // Scores of the MagNetO and the linear model are LLRs; the second run reuses the cached inputs.
        for model in ["mag", "lin"] {
            let score = try spkv("score", "--model", dir.path("\(model).safetensors"), "--trials", dir.path("corpus/dev/trials-cross-channel.txt"),
                                 "--audio-root", dir.path("corpus/wav"), "--output", dir.path("\(model).scores"))
            #expect(score.status == 0, "\(score)")
            let eval = try spkv("eval", "--scores", dir.path("\(model).scores"))
            #expect(eval.status == 0 && eval.stdout.contains("log-likelihood ratios") && eval.stdout.contains("Cllr"), "\(eval)")
        }
        let scatter = try spkv("score", "--model", dir.path("mag.safetensors"), "--trials", dir.path("corpus/dev/trials-cross-channel.txt"),
                               "--audio-root", dir.path("corpus/wav"), "--output", dir.path("again.scores"), "--scatter", dir.path("fig.svg"))
        let svg = (try? String(contentsOfFile: dir.path("fig.svg"), encoding: .utf8)) ?? ""
        #expect(scatter.status == 0 && svg.contains("scatter-target") && svg.contains("global calibrator scale"), "\(scatter)")
        let noMagnitudes = try spkv("score", "--model", dir.path("lin.safetensors"), "--trials", dir.path("corpus/dev/trials-cross-channel.txt"),
                                    "--audio-root", dir.path("corpus/wav"), "--scatter", dir.path("fig2.svg"))
        #expect(noMagnitudes.status == 1 && noMagnitudes.stderr.contains("MagNetO"), "\(noMagnitudes)")
        let clusters = try spkv(common + ["--labels", "clusters", "--clusters", "3", "--output", dir.path("mag-k.safetensors")], binary: "spkv-train")
        #expect(clusters.status == 0 && clusters.stdout.contains("from \(dir.path("mag/inputs.safetensors"))")
                && clusters.stdout.contains("NMI vs speakers"), "\(clusters)")
        // A MagNetO model is not recalibrated, nor used as a frozen model again; bad options name themselves.
        let calibrate = try spkv("calibrate", "--model", dir.path("mag.safetensors"), "--scores", dir.path("mag.scores"), "--output", dir.path("x"))
        #expect(calibrate.status == 1 && calibrate.stderr.contains("MagNetO"), "\(calibrate)")
        let again = try spkv(["magneto", "--model", dir.path("mag.safetensors"), "--corpus", dir.path("corpus"), "--out", dir.path("x"),
                              "--output", dir.path("y")], binary: "spkv-train")
        #expect(again.status == 1 && again.stderr.contains("already has a MagNetO network"), "\(again)")
        let badLabels = try spkv(common + ["--labels", "videos", "--output", dir.path("z")], binary: "spkv-train")
        #expect(badLabels.status != 0 && badLabels.stderr.contains("labels"), "\(badLabels)")
        // Held-out sources leave after the cached extraction; an unknown one is named with the corpus's sources.
        let unknown = try spkv(common + ["--exclude-source", "nexuiz-data", "--output", dir.path("z")], binary: "spkv-train")
        #expect(unknown.status != 0 && unknown.stderr.contains("nexuiz-data") && unknown.stderr.contains("tiny"), "\(unknown)")
        let everything = try spkv(common + ["--exclude-source", "tiny", "--output", dir.path("z")], binary: "spkv-train")
        #expect(everything.status != 0 && everything.stdout.contains("left out") && !FileManager.default.fileExists(atPath: dir.path("z")),
                "\(everything)")
        // Clusters of unlabeled utterances need unlabeled utterances.
        let noUnlabeled = try spkv(common + ["--unlabeled-clusters", "2", "--output", dir.path("z")], binary: "spkv-train")
        #expect(noUnlabeled.status != 0 && noUnlabeled.stderr.contains("2 clusters for 0 unlabeled utterances"), "\(noUnlabeled)")
    }
}
