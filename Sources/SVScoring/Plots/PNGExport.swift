import Foundation
import SVFiles

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
    /// at 1.5× the SVG's pixel size; the converter writes to a pipe and the PNG is stored with
    /// `AtomicFile`, so a failed conversion leaves no partial file. Returns false when no converter is
    /// installed, it fails, or the file cannot be written.
    @discardableResult
    public static func writePNG(svg: String, path: String) -> Bool {
        guard let converter = pngConverterCommand() else { return false }
        let source = FileManager.default.temporaryDirectory
            .appendingPathComponent("spkv-plot-\(UUID().uuidString).svg")
        defer { try? FileManager.default.removeItem(at: source) }
        do { try AtomicFile.write(svg, to: source.path) } catch { return false }
        let arguments = converter.hasSuffix("rsvg-convert")
            ? ["--zoom", "1.5", "--background-color", "white", "--format", "png", source.path]
            : ["-density", "144", "-background", "white", source.path, "-flatten", "png:-"]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: converter)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return false }
        let png = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, png.starts(with: [0x89, 0x50, 0x4E, 0x47]) else { return false }
        do { try AtomicFile.write(png, to: path) } catch { return false }
        return true
    }
}
