import ArgumentParser
import Foundation
import SpeakerVerification

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a model file: architecture, parameters, front end, checksum, format version.")

    @Argument(help: "Path of an spkv model file.") var model: String
    @Flag(help: "Print the raw metadata as JSON.") var json = false

    func run() throws {
        try reportingErrors {
            let m = try SpeakerModel.load(path: model)
            if json {
                var entries = m.metadata.entries
                entries["spkv.data_crc32"] = m.checksum
                let data = try JSONSerialization.data(withJSONObject: entries, options: [.sortedKeys, .prettyPrinted])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            let f = m.features
            let size = (try? FileManager.default.attributesOfItem(atPath: model)[.size] as? Int) ?? 0
            let network: String
            switch m.encoder {
            case .ecapa(let e):
                let c = e.config
                network = """
                    architecture:   \(m.encoder.architecture) (\(c.variant.rawValue) variant)
                    channels:       \(c.channels.map(String.init).joined(separator: "/")), kernels \(c.kernelSizes.map(String.init).joined(separator: "/")), dilations \(c.dilations.map(String.init).joined(separator: "/"))
                    res2net scale:  \(c.res2netScale), SE \(c.seChannels), attention \(c.attentionChannels)\(c.globalContext ? " (global context)" : ""), padding \(c.padding.rawValue)
                    """
            case .campplus(let e):
                let c = e.config
                network = """
                    architecture:   \(m.encoder.architecture) (3D-Speaker CAM++)
                    front module:   \(c.headChannels) channels, \(c.inputSize) → \(c.headRows) frequency rows; TDNN \(c.initChannels) channels, stride 2
                    dense blocks:   \(c.blockLayers.map(String.init).joined(separator: "/")) CAM layers (growth \(c.growthRate), bottleneck \(c.bottleneckChannels), kernels \(c.blockKernels.map(String.init).joined(separator: "/")), dilations \(c.blockDilations.map(String.init).joined(separator: "/")), segments of \(c.segmentLength) frames)
                    """
            }
            print("""
                model:          \(model)
                format:         \(ModelMetadata.formatName) v\(m.formatVersion), \(size) bytes, data CRC-32 \(m.checksum)
                \(network)
                embedding:      \(m.embeddingSize) dimensions
                parameters:     \(m.encoder.parameterCount)
                front end:      \(f.nMels) mels \(Int(f.fMin))–\(Int(f.fMax)) Hz (\(f.melScale.rawValue), \(f.filterConstruction.rawValue) filters), n_fft \(f.nFFT), window \(f.window.rawValue) \(f.winLength)/\(f.hopLength)\(f.center ? ", centred (\(f.padMode.rawValue))" : ", snip edges"), log \(f.log.rawValue), normalisation \(f.normalization.rawValue), \(f.sampleRate) Hz
                scoring:        \(m.metadata.scoring)\(m.magnitudeNetwork.map { "\n                magnitudes:     MagNetO network \($0.inputSize)→\(($0.hiddenWidths + [1]).map(String.init).joined(separator: "→")) (ReLU), \($0.parameterCount) parameters" } ?? "")
                quantization:   \(m.metadata.quantization)
                producer:       \(m.metadata.producer ?? "unknown")
                created:        \(m.metadata.created ?? "unknown")
                training:       \(m.metadata.training ?? "{}")
                """)
        }
    }
}
