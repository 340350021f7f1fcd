import Foundation

/// Locating and running the external programs (synthesisers and sox) with `Process`.
public struct ExternalTools: Sendable {
    public let paths: [String: String]

    /// Finds `sox` and the programs of `engines` on PATH; the error names the apt package to install.
    public static func locate(engines: [SynthEngine], searchPath: String? = nil) throws(CorpusError) -> ExternalTools {
        var paths: [String: String] = [:]
        let needed = [("sox", "sox")] + engines.map { ($0.program, $0.aptPackage) }
        for (name, apt) in needed {
            guard let p = find(name, searchPath: searchPath) else { throw .missingProgram(name: name, aptPackage: apt) }
            paths[name] = p
        }
        return ExternalTools(paths: paths)
    }

    /// The absolute path of `name` on PATH, or nil.
    public static func find(_ name: String, searchPath: String? = nil) -> String? {
        let path = searchPath ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Runs `name` with `arguments`, feeding `input` on stdin; returns stdout+stderr. Non-zero exit throws.
    @discardableResult
    public func run(_ name: String, _ arguments: [String], input: String? = nil) throws(CorpusError) -> String {
        guard let executable = paths[name] else { throw .missingProgram(name: name, aptPackage: name) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["LC_ALL"] = "C.UTF-8"
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        let stdin = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        // waitUntilExit polls the run loop (tens of ms per call on the main thread); a termination
        // handler and a semaphore return as soon as the child exits.
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        do { try process.run() } catch {
            throw .programFailed(name: name, arguments: arguments, status: -1, output: "\(error)")
        }
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try? stdin.fileHandleForWriting.close()
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        exited.wait()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            throw .programFailed(name: name, arguments: arguments, status: process.terminationStatus, output: text)
        }
        return text
    }

    /// First non-empty line of `name --version` (provenance only; flite exits non-zero here).
    public func version(_ name: String) -> String {
        let out: String
        do { out = try run(name, ["--version"]) } catch {
            if case .programFailed(_, _, _, let text) = error { out = text } else { out = "" }
        }
        let line = out.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.first { !$0.isEmpty && !$0.hasPrefix("Carnegie") }
        return line ?? "unknown"
    }
}
