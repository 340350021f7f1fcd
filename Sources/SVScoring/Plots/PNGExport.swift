import Foundation

extension Plots {
    /// The first SVG → PNG converter on `PATH`: `rsvg-convert` (librsvg2-bin), then ImageMagick
    /// `convert`; its absolute path, or nil when neither is installed.
    public static func pngConverterCommand() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for name in ["rsvg-convert", "convert"] {
            for dir in path.split(separator: ":") where !dir.isEmpty {
                let candidate = "\(dir)/\(name)"
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            }
        }
        return nil
    }

    /// Renders `svg` (the document text) to a PNG at `path` with `pngConverterCommand()`, on white,
    /// at 1.5× the SVG's pixel size. Returns false when no converter is installed or it fails.
    @discardableResult
    public static func writePNG(svg: String, path: String) -> Bool {
        guard let converter = pngConverterCommand() else { return false }
        let source = FileManager.default.temporaryDirectory
            .appendingPathComponent("spkv-plot-\(UUID().uuidString).svg")
        defer { try? FileManager.default.removeItem(at: source) }
        do { try Data(svg.utf8).write(to: source) } catch { return false }
        let arguments = converter.hasSuffix("rsvg-convert")
            ? ["--zoom", "1.5", "--background-color", "white", "--format", "png", "--output", path, source.path]
            : ["-density", "144", "-background", "white", source.path, "-flatten", path]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: converter)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return false }
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size > 0 else { return false }
        return true
    }
}
