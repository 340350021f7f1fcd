import ArgumentParser
import Foundation
import SVTraining

/// `spkv-train train`: a training run from a JSON config plus overrides, resumable.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train an ECAPA-TDNN (supervised AAM-softmax, SimCLR, oracle-positive SimCLR, DINO, oracle-positive DINO or distillation) on a corpus.",
        discussion: """
        Keys (JSON config file and --set key=value): method (supervised | simclr | simclr-oracle | dino | dino-oracle | distill), corpus, \
        features (sslsv-40 | sslsv-80 | speechbrain | kaldi), model.{input_size, channels, kernel_sizes, \
        dilations, res2net_scale, se_channels, attention_channels, global_context, embedding_size, padding, \
        batch_norm_eps}, batch_size, crop_seconds, epochs, lr, lr_decay, lr_step_epochs, weight_decay, \
        augmentation (none | reverb+noise | all), temperature, aam_scale, aam_margin, validate, seed, threads, \
        init_from (a base run folder or checkpoint to continue as a new stage; its config may differ from the \
        base's only in epochs, threads, seed — the stage's own draws —, corpus (another corpus too: the stage trains the base's weights on it), ssps.*, distill.*, qat.*, a \
        QAT stage's lr schedule, simclr ↔ simclr-oracle and simclr → distill), ssps.{enabled, sampling \
        (kmeans-repr | knn), clusters, iterations, positive_queue, neighbours, reference_seconds, teacher_reference_train_mode (DINO), \
        reference_model (a frozen spkv model whose embeddings choose the positives)}, distill.{teacher_model, loss (cosine | mse), \
        weight}, \
        dino_global_seconds, dino_local_seconds, dino.{hidden, bottleneck, prototypes, student_temperature, \
        teacher_temperature, center_momentum, momentum, warmup_epochs, schedule_epochs, final_lr, clip_grad, \
        freeze_last_layer}, qat.{enabled, calibration_utterances}, band_limit.{probability, cutoff_hz}.
        The run folder gets config.json, log.csv, checkpoint-epochNNN.safetensors (atomic, every epoch) and \
        checkpoint-last. --resume continues exactly from checkpoint-last; only epochs, threads and the corpus location may change (with another thread count OpenBLAS may split some sums differently: the same run to rounding, not bit for bit).
        SSPS (SimCLR or DINO): train a base run, then a second run with --set init_from=BASE_RUN --set ssps.enabled=true \
        and more epochs; it starts with an eval-mode pass that fills the queues and logs coverage, the share of \
        same-speaker and other-recording pseudo-positives, and NMI of the clusters vs speakers and recordings.
        DINO (reference recipe): --set method=dino --set lr=0.2 --set weight_decay=5e-5 --set augmentation=all \
        (SGD, momentum 0.9; lr and weight_decay default to SimCLR's values); validation and export use the \
        EMA teacher encoder. With dino.schedule_epochs 0 the LR and EMA schedules span `epochs`, so set it when \
        a run is to be resumed with more epochs.
        Unlabeled corpora (speaker '-', from `corpus import-game`, merged with a labeled dev set by `corpus merge`) \
        train with simclr or dino; band_limit.probability low-passes that share of the crops at cutoff_hz \
        (default 5512.5 Hz, the game speech's Nyquist frequency) so wide-band synthetic speech looks like it.
        QAT (supervised or SimCLR): --set init_from=FP32_RUN --set qat.enabled=true --set lr=1e-5 and one or two more \
        epochs: the TDNN convolutions train fake-quantised as the int8 core runs them (per-channel int8 weights, \
        learned per-tensor input steps starting from MSE calibration on qat.calibration_utterances training \
        utterances); validation sees the quantised network and `spkv-train export` writes the int8 model.
        """)

    @Option(name: .long, help: "Run folder.") var out: String
    @Option(name: .long, help: "JSON config file.") var config: String?
    @Option(name: .long, help: "Corpus folder (same as --set corpus=DIR).") var corpus: String?
    @Option(name: .customLong("set"), help: "Override a config key: key=value (repeatable; model.KEY for the model).")
    var overrides: [String] = []
    @Flag(name: .long, help: "Continue the run in --out from its checkpoint-last.") var resume = false
    @Flag(name: .long, help: "No progress line.") var quiet = false
    @Option(name: .customLong("embedding-cache"),
            help: "Folder of frozen-model embeddings shared between runs (ssps.reference_model, distill.teacher_model): one file per model, keyed by audio file.")
    var embeddingCache: String?

    func run() throws {
        // TrainingError propagates: ArgumentParser prints its description and exits with status 1.
        do {
            var sets = overrides
            if let corpus { sets.insert("corpus=\(corpus)", at: 0) }
            let resolved: TrainingConfig
            if resume {
                guard config == nil else { throw ValidationError("--resume reads the run's config.json; pass no --config") }
                let path = "\(out)/config.json"
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                    throw TrainingError.configFile(path: path, reason: "cannot read it; nothing to resume in \(out)")
                }
                resolved = try TrainingConfig.resolve(fileText: text, filePath: path, overrides: sets)
            } else {
                var text: String?
                if let config {
                    guard let t = try? String(contentsOfFile: config, encoding: .utf8) else {
                        throw TrainingError.configFile(path: config, reason: "cannot read the file")
                    }
                    text = t
                }
                resolved = try TrainingConfig.resolve(fileText: text, filePath: config ?? "config", overrides: sets)
            }
            let trainer = try Trainer(config: resolved, runDirectory: out, resume: resume, embeddingCache: embeddingCache)
            trainer.showProgress = !quiet && isatty(2) != 0
            if resume { print("resuming \(out) after epoch \(trainer.epochsDone) of \(resolved.epochs)") }
            if let m = trainer.stepper.memory {
                print("SSPS \(resolved.ssps.sampling.rawValue): Q̂ \(m.referenceCapacity) × \(m.dimension), Q′ \(m.positiveCapacity) × "
                      + "\(m.positiveDimension), " + String(format: "%.1f MB of queues", Double(m.bytes) / 1_048_576))
            }
            let log = try trainer.run()
            if let last = log.last {
                print(String(format: "%@: %d epochs, loss %.4f, %.1f s of audio per s", resolved.method.rawValue, last.epoch,
                             last.loss, last.audioSecondsPerSecond)
                      + (last.validationEER.map { String(format: ", validation EER %.2f %%", $0) } ?? ""))
            }
            print("wrote \(out)/log.csv and checkpoints; export with: spkv-train export \(out)/checkpoint-last --output MODEL")
        }
    }
}
