import ArgumentParser
import Foundation
import SpeakerVerification

extension SourceToolkit: ExpressibleByArgument {}

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a SpeechBrain, WeSpeaker or sslsv ECAPA-TDNN, or a 3D-Speaker CAM++ checkpoint to an spkv model.",
        discussion: """
            SRC is a PyTorch checkpoint (.ckpt/.pt/.pth zip, read without executing anything in it) or a .safetensors \
            file, with the toolkit's own state_dict names (SpeechBrain embedding_model.ckpt keys, WeSpeaker \
            ECAPA_TDNN_GLOB_c512/c1024, sslsv's encoder, 3D-Speaker's CAMPPlus); a prefix such as 'encoder.' is found \
            automatically and other tensors (classifier heads, projections) are listed and left out. Hyperparameters \
            come from the tensor shapes (CAM++: upstream's block dilations 1,2,2; --dilations is ECAPA's); the front end \
            is the toolkit's own (speechbrain → speechbrain, wespeaker → kaldi, sslsv → sslsv-40 or sslsv-80 with the \
            window and filterbank stored in the checkpoint, campplus → 3d-speaker). Legacy (pre-zip) PyTorch files: \
            convert with  python3 tools/convert_checkpoint.py IN.pt OUT.safetensors
            """)

    @Option(help: "Source toolkit: \(SourceToolkit.allCases.map(\.rawValue).joined(separator: ", ")).")
    var from: SourceToolkit
    @Argument(help: "Source checkpoint (.ckpt, .pt, .pth or .safetensors).") var source: String
    @Option(name: .shortAndLong, help: "Output spkv model file.") var output: String
    @Option(name: .customLong("front-end"), help: "Override the front end: \(FeatureConfig.presetNames.joined(separator: ", ")).")
    var frontEnd: String?
    @Option(help: "ECAPA-TDNN: the five dilations, comma-separated (weights cannot reveal them; default 1,2,3,4,1).")
    var dilations: String?

    func validate() throws {
        if let frontEnd, FeatureConfig.preset(named: frontEnd) == nil {
            throw ValidationError("unknown front end '\(frontEnd)'; valid: \(FeatureConfig.presetNames.joined(separator: ", "))")
        }
        if from == .campplus, dilations != nil {
            throw ValidationError("--dilations sets ECAPA-TDNN's dilations; a CAM++ has upstream's (1,2,2 per dense block)")
        }
        guard parsedDilations?.count == 5 else { throw ValidationError("--dilations needs five integers from 1 to 64, e.g. 1,2,3,4,1") }
    }

    var parsedDilations: [Int]? {
        let values = (dilations ?? "1,2,3,4,1").split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        return values.count == 5 && values.allSatisfy({ (1...64).contains($0) }) ? values : nil
    }

    func run() throws {
        try reportingErrors {
            let summary = try ModelImport.run(from: from, source: source, output: output,
                                              frontEnd: frontEnd.flatMap(FeatureConfig.preset(named:)),
                                              dilations: parsedDilations!)
            if let c = summary.imported?.config {
                print("imported \(from.rawValue) ECAPA-TDNN: channels \(c.channels.map(String.init).joined(separator: "/")), " +
                      "\(c.inputSize) mels, embedding \(c.embeddingSize), \(c.parameterCount) parameters")
            } else if let c = summary.campplus?.config {
                print("imported 3D-Speaker CAM++: blocks \(c.blockLayers.map(String.init).joined(separator: "/")), growth \(c.growthRate), " +
                      "\(c.inputSize) mels, embedding \(c.embeddingSize), \(c.parameterCount) parameters")
            }
            print("front end: \(frontEnd ?? "toolkit default")\(summary.usedCheckpointTables ? " (window and filterbank from the checkpoint)" : "")")
            let ignored = summary.ignored
            if !ignored.isEmpty {
                print("left out \(ignored.count) tensors: \(ignored.prefix(8).joined(separator: ", "))\(ignored.count > 8 ? ", …" : "")")
            }
            print("wrote \(output) (data CRC-32 \(summary.file.checksum))")
        }
    }
}
