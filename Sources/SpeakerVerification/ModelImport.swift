import Foundation

/// Why a foreign checkpoint could not be turned into an spkv model.
public enum ModelImportError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String, ModelFileError)
    /// A PyTorch checkpoint spkv does not read itself (a legacy pre-1.6 pickle, or a file with a
    /// zip signature but no zip structure).
    case pytorchCheckpoint(path: String)
    /// A PyTorch zip checkpoint that the built-in reader refused (see `PyTorchCheckpointError`).
    case pytorchUnreadable(path: String, PyTorchCheckpointError)
    case conversion(path: String, ImportError)
    case model(SpeakerModelError)
    case output(path: String, ModelFileError)

    public var description: String {
        switch self {
        case .unreadable(let path, let e): return "\(path): not a readable safetensors file: \(e)"
        case .pytorchCheckpoint(let path):
            return "\(path) is a PyTorch checkpoint spkv cannot read itself (legacy pre-1.6 pickle, or not a valid zip); convert it first: python3 tools/convert_checkpoint.py \(path) out.safetensors"
        case .pytorchUnreadable(let path, let e): return "\(path): \(e)"
        case .conversion(let path, let e): return "\(path): \(e)"
        case .model(let e): return "\(e)"
        case .output(let path, let e): return "cannot write \(path): \(e)"
        }
    }
}

/// `spkv import`: a SpeechBrain / WeSpeaker / sslsv ECAPA-TDNN `state_dict` (safetensors) becomes an
/// spkv model file with the toolkit's front end.
public enum ModelImport {
    public struct Summary: Sendable {
        /// The ECAPA-TDNN read (nil for a CAM++ import).
        public let imported: ImportedEncoder?
        /// The CAM++ read (nil for an ECAPA-TDNN import).
        public let campplus: ImportedCAMPPlus?
        public let file: ModelFile
        public let usedCheckpointTables: Bool
        /// Checkpoint entries that are not part of the encoder.
        public var ignored: [String] { imported?.ignored ?? campplus?.ignored ?? [] }
    }

    /// - Parameters:
    ///   - frontEnd: overrides the toolkit's usual front end (the checkpoint's own tables are then ignored).
    ///   - dilations: the encoder's five dilations, which weights cannot reveal.
    ///   - created: the file's creation time; by default `SOURCE_DATE_EPOCH` when set (reproducible
    ///     builds: the same checkpoint then imports to the same bytes), else now.
    public static func run(from toolkit: SourceToolkit, source: String, output: String?,
                           frontEnd: FeatureConfig? = nil,
                           dilations: [Int] = [1, 2, 3, 4, 1], created: Date = creationDate()) throws(ModelImportError) -> Summary {
        // A PyTorch zip checkpoint (torch.save since 1.6) is read directly, without running any
        // pickled code; a legacy bare pickle gets the conversion hint.
        let head = FileManager.default.contents(atPath: source)?.prefix(4) ?? Data()
        let checkpoint: [String: StoredTensor]
        if PyTorchCheckpoint.hasZipSignature(head) || PyTorchCheckpoint.hasLegacyPickleSignature(head) {
            do { checkpoint = try PyTorchCheckpoint.read(path: source).tensors } catch {
                switch error {
                case .legacyFormat, .notZipArchive: throw .pytorchCheckpoint(path: source)
                default: throw .pytorchUnreadable(path: source, error)
                }
            }
        } else {
            do { checkpoint = try SafeTensors.read(path: source).tensors } catch { throw .unreadable(path: source, error) }
        }
        let sourceCRC = FileManager.default.contents(atPath: source).map { CRC32.hex(CRC32.checksum([UInt8]($0))) } ?? ""
        let training = ["method": "import:\(toolkit.rawValue)",
                        "source_file": (source as NSString).lastPathComponent, "source_crc32": sourceCRC]
        let producer = "spkv import \(SpeakerVerification.version)"
        let summary: Summary
        if toolkit == .campplus {
            let imported: ImportedCAMPPlus
            do { imported = try CAMPPlusImporter.importEncoder(checkpoint: checkpoint) } catch { throw .conversion(path: source, error) }
            do {
                let file = try SpeakerModel.makeFile(config: imported.config, features: frontEnd ?? imported.frontEnd,
                                                     encoderTensors: imported.tensors, producer: producer, training: training,
                                                     created: created)
                summary = Summary(imported: nil, campplus: imported, file: file, usedCheckpointTables: false)
            } catch { throw .model(error) }
        } else {
            let imported: ImportedEncoder
            do {
                imported = try ECAPAImporter.importEncoder(from: toolkit, checkpoint: checkpoint, dilations: dilations)
            } catch { throw .conversion(path: source, error) }
            let tables = frontEnd == nil ? imported.frontEndTables : nil
            do {
                let file = try SpeakerModel.makeFile(
                    config: imported.config, features: frontEnd ?? imported.frontEnd, encoderTensors: imported.tensors,
                    frontEndTables: tables, producer: producer, training: training, created: created)
                summary = Summary(imported: imported, campplus: nil, file: file, usedCheckpointTables: tables != nil)
            } catch { throw .model(error) }
        }
        if let output {
            do { try summary.file.write(path: output) } catch { throw .output(path: output, error) }
        }
        return summary
    }

    /// `SOURCE_DATE_EPOCH` (whole seconds since 1970, the reproducible-builds convention) when it is set
    /// and valid, else now.
    public static func creationDate() -> Date {
        guard let text = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"], let seconds = Int64(text), seconds >= 0 else { return Date() }
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }
}
