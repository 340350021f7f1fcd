import Foundation
import SVAutograd
import SVModels
import SVFiles

/// One row of log.csv.
public struct TrainingLogRow: Equatable, Sendable {
    public var epoch: Int
    public var step: Int
    public var loss: Double
    public var lr: Float
    public var seconds: Double
    public var audioSecondsPerSecond: Double
    /// Validation EER in percent; nil when there is no dev trial list or validation is off.
    public var validationEER: Double?
    /// SSPS diagnostics of the epoch; nil without SSPS.
    public var ssps: SSPSEpochStats?

    public static let header = "epoch,step,loss,lr,seconds,audio_seconds_per_second,validation_eer,"
        + SSPSEpochStats.header

    public var csv: String {
        "\(epoch),\(step),\(String(format: "%.9g", loss)),\(lr),"
            + "\(String(format: "%.3f", seconds)),\(String(format: "%.2f", audioSecondsPerSecond)),"
            + (validationEER.map { String(format: "%.6f", $0) } ?? "") + "," + (ssps?.csv ?? ",,,,")
    }

    /// The row without its timing columns (what an interrupted and an uninterrupted run share).
    public var deterministicPart: String {
        "\(epoch),\(step),\(String(format: "%.9g", loss)),\(lr),"
            + (validationEER.map { String(format: "%.6f", $0) } ?? "") + "," + (ssps?.csv ?? "")
    }

    public init(epoch: Int, step: Int, loss: Double, lr: Float, seconds: Double, audioSecondsPerSecond: Double, validationEER: Double?) {
        self.epoch = epoch; self.step = step; self.loss = loss; self.lr = lr; self.seconds = seconds
        self.audioSecondsPerSecond = audioSecondsPerSecond; self.validationEER = validationEER
    }

    /// Parses a row (7 columns from before SSPS, or 12).
    init?(csv line: String) {
        let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard f.count == 7 || f.count == 12, let e = Int(f[0]), let s = Int(f[1]), let l = Double(f[2]), let r = Float(f[3]),
              let sec = Double(f[4]), let t = Double(f[5]) else { return nil }
        self.init(epoch: e, step: s, loss: l, lr: r, seconds: sec, audioSecondsPerSecond: t,
                  validationEER: f[6].isEmpty ? nil : Double(f[6]))
        if f.count == 12, !f[7].isEmpty {
            guard let stats = SSPSEpochStats(csv: Array(f[7...])) else { return nil }
            ssps = stats
        }
    }
}

/// Per-epoch SSPS diagnostics (reference: ssps_coverage, ssps_speaker_acc, ssps_video_acc, NMI).
public struct SSPSEpochStats: Equatable, Sendable {
    /// Share of anchors that got a pseudo-positive.
    public var coverage: Double
    /// Among pseudo-positives: share from the anchor's speaker, and share from another recording.
    public var sameSpeaker: Double
    public var otherRecording: Double
    /// NMI of the epoch-start clusters against speakers and against recordings (k-means sampling only).
    public var nmiSpeaker: Double?
    public var nmiRecording: Double?

    public static let header = "ssps_coverage,ssps_same_speaker,ssps_other_recording,nmi_speaker,nmi_recording"

    public init(coverage: Double, sameSpeaker: Double, otherRecording: Double, nmiSpeaker: Double?, nmiRecording: Double?) {
        self.coverage = coverage; self.sameSpeaker = sameSpeaker; self.otherRecording = otherRecording
        self.nmiSpeaker = nmiSpeaker; self.nmiRecording = nmiRecording
    }

    var csv: String {
        [coverage, sameSpeaker, otherRecording].map { String(format: "%.6f", $0) }.joined(separator: ",") + ","
            + [nmiSpeaker, nmiRecording].map { $0.map { String(format: "%.6f", $0) } ?? "" }.joined(separator: ",")
    }

    init?(csv f: [String]) {
        guard f.count == 5, let c = Double(f[0]), let s = Double(f[1]), let o = Double(f[2]) else { return nil }
        self.init(coverage: c, sameSpeaker: s, otherRecording: o, nmiSpeaker: Double(f[3]), nmiRecording: Double(f[4]))
    }
}

/// A training checkpoint (safetensors): model parameters and batch-norm buffers (`model.<name>`), the
/// classifier (`classifier.weight`, supervised), Adam moments (`adam.m.<name>`, `adam.v.<name>`); for
/// DINO the student head (`head.`), teacher encoder and head (`teacher.`, `teacher_head.`), the
/// center (`dino.center`) and SGD momentum buffers (`sgd.momentum.<name>`); and
/// metadata: the resolved config, completed epochs, global step, Adam's step count, the seed, the
/// log rows so far, corpus identity, and a CRC32 of the tensor data (corruption check).
public struct TrainingCheckpoint {
    public static let format = "spkv-train-checkpoint"
    public var config: TrainingConfig
    public var epoch: Int
    public var globalStep: Int
    public var adamStep: Int
    public var log: [TrainingLogRow]
    public var corpusID: String
    /// The corpora of earlier stages that differ from this run's, as JSON `{corpus id: {"corpus": path, "sources":
    /// {…}}}` (empty when every stage trained on this corpus): what the weights heard before this stage, for provenance.
    public var earlierCorpora: String = ""
    public var tensors: [String: [Float]]
    public var shapes: [String: [Int]]

    public init(config: TrainingConfig, epoch: Int, globalStep: Int, adamStep: Int, log: [TrainingLogRow], corpusID: String,
                tensors: [String: (shape: [Int], values: [Float])]) {
        self.config = config; self.epoch = epoch; self.globalStep = globalStep; self.adamStep = adamStep
        self.log = log; self.corpusID = corpusID
        self.tensors = tensors.mapValues(\.values); self.shapes = tensors.mapValues(\.shape)
    }

    public var lastValidationEER: Double? { log.last?.validationEER }

    static func dataChecksum(_ tensors: [String: [Float]]) -> String {
        var crc = CRC32()
        for name in tensors.keys.sorted() {
            tensors[name]!.withUnsafeBytes { crc.update($0) }
        }
        return crc.hex
    }

    /// Writes atomically: a temporary file in the same folder, then rename.
    public func write(path: String) throws(TrainingError) {
        var list: [StoredTensor] = []
        for name in tensors.keys.sorted() {
            do { list.append(try StoredTensor(name: name, shape: shapes[name]!, floats: tensors[name]!)) } catch {
                throw .checkpoint(path: path, reason: "tensor \(name): \(error)")
            }
        }
        let metadata = [
            "format": Self.format, "version": "1", "config": config.json, "epoch": "\(epoch)",
            "global_step": "\(globalStep)", "adam_step": "\(adamStep)", "seed": "\(config.seed)",
            "corpus_id": corpusID, "log": log.map(\.csv).joined(separator: "\n"),
            "data_crc32": Self.dataChecksum(tensors),
        ].merging(earlierCorpora.isEmpty ? [:] : ["earlier_corpora": earlierCorpora]) { a, _ in a }
        let bytes = SafeTensors(metadata: metadata, tensors: list).serialize()
        do { try AtomicFile.write(bytes, to: path) } catch {
            throw .checkpoint(path: path, reason: error.description)
        }
    }

    public static func read(path: String) throws(TrainingError) -> TrainingCheckpoint {
        let file: SafeTensors
        do { file = try SafeTensors.read(path: path) } catch {
            throw .checkpoint(path: path, reason: "not a readable checkpoint (truncated or corrupt?): \(error.description)")
        }
        let m = file.metadata
        guard m["format"] == format else { throw .checkpoint(path: path, reason: "not an spkv-train checkpoint (metadata 'format' missing)") }
        guard let cj = m["config"], let e = m["epoch"].flatMap(Int.init), let gs = m["global_step"].flatMap(Int.init),
              let ast = m["adam_step"].flatMap(Int.init), let logText = m["log"], let crc = m["data_crc32"] else {
            throw .checkpoint(path: path, reason: "metadata is incomplete (config, epoch, global_step, adam_step, log, data_crc32)")
        }
        let config: TrainingConfig
        do { config = try TrainingConfig.decode(json: cj, source: "\(path) metadata") } catch {
            throw .checkpoint(path: path, reason: "its config is invalid: \(error.description)")
        }
        var log: [TrainingLogRow] = []
        for line in logText.split(separator: "\n") {
            guard let row = TrainingLogRow(csv: String(line)) else { throw .checkpoint(path: path, reason: "bad log row '\(line)'") }
            log.append(row)
        }
        var tensors: [String: (shape: [Int], values: [Float])] = [:]
        for (name, t) in file.tensors {
            do { tensors[name] = (t.shape, try t.floats().array) } catch {
                throw .checkpoint(path: path, reason: "tensor \(name): \(error.description)")
            }
        }
        var ck = TrainingCheckpoint(config: config, epoch: e, globalStep: gs, adamStep: ast, log: log,
                                    corpusID: m["corpus_id"] ?? "", tensors: tensors)
        ck.earlierCorpora = m["earlier_corpora"] ?? ""
        guard dataChecksum(ck.tensors) == crc else { throw .checkpoint(path: path, reason: "tensor data checksum mismatch (corrupt file)") }
        return ck
    }

    /// The checkpoint a user path names: a checkpoint file, a `checkpoint-last` pointer, or a run
    /// folder (its `checkpoint-last`).
    public static func resolve(_ path: String) throws(TrainingError) -> String {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            return try lastPath(runDirectory: path)
        }
        if (path as NSString).lastPathComponent == "checkpoint-last" {
            return try lastPath(runDirectory: (path as NSString).deletingLastPathComponent)
        }
        return path
    }

    /// The checkpoint `checkpoint-last` in a run folder points to.
    public static func lastPath(runDirectory dir: String) throws(TrainingError) -> String {
        let pointer = "\(dir)/checkpoint-last"
        guard let text = try? String(contentsOfFile: pointer, encoding: .utf8) else {
            throw .checkpoint(path: pointer, reason: "no checkpoint-last in \(dir); nothing to resume")
        }
        let name = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty, !name.contains("/") else { throw .checkpoint(path: pointer, reason: "does not name a checkpoint file") }
        return "\(dir)/\(name)"
    }

    /// Prefix of the encoder inference uses: the teacher (`teacher.`) for DINO, else `model.`.
    public var inferencePrefix: String { config.method.isDINO ? "teacher." : "model." }

    /// The inference encoder's tensors (DINO: the teacher) into a model built from the checkpoint's config.
    public func makeModel() throws(TrainingError) -> ECAPATrainingModel {
        let model = ECAPATrainingModel(config: config.model, seed: config.seed)
        let prefix = inferencePrefix
        if config.qat.enabled { model.enableFakeQuantization(inputScales: [:]) }
        do { try model.load { tensors[prefix + $0] } } catch { throw .checkpoint(path: "", reason: error.description) }
        return model
    }
}
