import ArgumentParser
import Foundation
import SpeakerVerification
import SVKernels

extension ActivationCalibration: ExpressibleByArgument {}

struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Post-training int8 quantisation of a model, calibrated on audio.",
        discussion: """
            Weights of the convolutions become int8 with one scale per output channel; their inputs get static \
            per-tensor int8 scales measured on the calibration audio (--method mse: the clipping value with the \
            least expected squared error; max: no clipping; percentile: clip at --percentile of |x|). ECAPA-TDNN: \
            every TDNN convolution (first layer, SE-Res2Net blocks, MFA); SE, attention, pooling and the \
            embedding layer stay fp32. CAM++: the front module but its first convolution, the TDNN layer, the \
            dense blocks' bottleneck and local convolutions and the transit layers; the context-aware masks, \
            pooling and the embedding layer stay fp32. \
            The model file records the scheme (int8-static, version 1) and the calibration. AUDIO_LIST is a text \
            file with one audio path per line (relative paths are relative to the list's folder; '#' starts a comment). \
            --save-scales writes the measured scales to a JSON file; --scales FILE quantises with such a file instead of \
            calibrating (no audio): the output is then a pure function of the model and that file, the same bytes on \
            every machine (calibration runs the fp32 network, whose last bits depend on the OpenBLAS kernels).
            """)

    @Argument(help: "fp32 model to quantise.") var model: String
    @Option(help: "Calibration audio list (one path per line).") var calibration: String?
    @Option(help: "Quantise with these input scales (a --save-scales file) instead of calibrating.") var scales: String?
    @Option(help: "Also write the measured input scales here (JSON).") var saveScales: String?
    @Option(help: "How activation scales are chosen: mse, max or percentile.") var method = ActivationCalibration.mse
    @Option(help: "Percentile of |x| for --method percentile.") var percentile = 99.99
    @Option(name: .shortAndLong, help: "int8 model file to write.") var output: String

    func validate() throws {
        guard percentile > 50, percentile <= 100 else { throw ValidationError("--percentile must be in (50, 100]") }
        guard (calibration == nil) != (scales == nil) else { throw ValidationError("give exactly one of --calibration and --scales") }
    }

    func run() throws {
        try reportingErrors {
            let paths = try calibration.map { try AudioList.read(path: $0) } ?? []
            var clock = Stopwatch()
            let (fp32, q, c) = if let scales {
                try PostTrainingQuantization.quantize(modelPath: model, calibration: try .read(path: scales), outputPath: output)
            } else {
                try PostTrainingQuantization.quantize(
                    modelPath: model, calibrationPaths: paths, method: method,
                    percentile: percentile, outputPath: output)
            }
            if let saveScales { try c.write(path: saveScales) }
            let before = (try? FileManager.default.attributesOfItem(atPath: model)[.size] as? Int) ?? 0
            let after = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
            print(String(format: "%@ %d files (%.1f s of audio), method %@, in %.1f s", scales == nil ? "calibrated on" : "scales measured on",
                         c.files, c.seconds, c.method.rawValue, clock.lap() / 1000))
            let levels: Float = q.quantization.unsignedActivations ? 255 : 127   // steps between zero and the clip
            for name in q.encoder.int8Convolutions {
                // String(format:) does not pad %@ on Linux: pad by hand.
                let column = name.count >= 48 ? name : name + String(repeating: " ", count: 48 - name.count)
                print("  " + column + String(format: " input scale %.6g (clips at %.4g)", c.inputScales[name]!, c.inputScales[name]! * levels))
            }
            print(String(format: "wrote %@: %.1f MiB (fp32 file %.1f MiB), int8 kernel %@", output,
                         Double(after) / 1_048_576, Double(before) / 1_048_576, "\(Int8Kernel.current)"))
            // How close the int8 model stays, on the calibration audio itself (held-out audio: spkv score/eval).
            guard !paths.isEmpty else { return }
            let cosines = try PostTrainingQuantization.agreement(fp32: fp32, int8: q, paths: paths)
            print(String(format: "int8 vs fp32 embeddings on the calibration audio: cosine mean %.5f, min %.5f",
                         cosines.reduce(0, +) / Double(cosines.count), cosines.min() ?? .nan))
        }
    }
}

/// A list of audio files, one per line.
enum AudioList {
    static func read(path: String) throws -> [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw ReportedFailure("\(path): cannot read the audio list") }
        let folder = (path as NSString).deletingLastPathComponent
        var paths: [String] = []
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0].trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty else { continue }
            paths.append(line.hasPrefix("/") || folder.isEmpty ? line : (folder as NSString).appendingPathComponent(line))
        }
        guard !paths.isEmpty else { throw ReportedFailure("\(path): the audio list is empty") }
        let missing = paths.filter { !FileManager.default.fileExists(atPath: $0) }
        guard missing.isEmpty else {
            throw ReportedFailure("\(path): \(missing.count) listed file(s) do not exist, e.g. \(missing.prefix(3).joined(separator: ", "))")
        }
        return paths
    }
}
