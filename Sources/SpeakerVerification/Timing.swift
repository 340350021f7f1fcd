import Foundation

/// Wall-clock time of each pipeline stage of one embedding, in milliseconds.
public struct PipelineTimings: Sendable, Equatable, Codable {
    public var decodeMilliseconds: Double = 0
    public var featuresMilliseconds: Double = 0
    public var encoderMilliseconds: Double = 0
    public var audioSeconds: Double = 0

    public init() {}

    public var totalMilliseconds: Double { decodeMilliseconds + featuresMilliseconds + encoderMilliseconds }
    /// Processing time over audio time (below 1 is faster than real time).
    public var realTimeFactor: Double { audioSeconds > 0 ? totalMilliseconds / 1000 / audioSeconds : 0 }
}

/// A monotonic stopwatch in milliseconds.
public struct Stopwatch: Sendable {
    private var start = DispatchTime.now().uptimeNanoseconds
    public init() {}
    public var milliseconds: Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6 }
    public mutating func lap() -> Double { defer { start = DispatchTime.now().uptimeNanoseconds }; return milliseconds }
}

/// Order statistics of repeated measurements (nearest-rank percentiles).
public struct SampleStatistics: Sendable, Codable, Equatable {
    public let count: Int
    public let median: Double
    public let p90: Double
    public let p99: Double
    public let min: Double
    public let max: Double

    public init(_ values: [Double]) {
        precondition(!values.isEmpty, "SampleStatistics needs at least one value")
        let s = values.sorted()
        func rank(_ q: Double) -> Double { s[Swift.min(s.count - 1, Swift.max(0, Int((q * Double(s.count)).rounded(.up)) - 1))] }
        count = s.count
        median = s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        p90 = rank(0.9); p99 = rank(0.99); min = s[0]; max = s[s.count - 1]
    }
}

/// Peak resident memory of this process so far (Linux `VmHWM`), in bytes; nil where unavailable.
public func peakResidentBytes() -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ").compactMap { Int($0) }.first
        return kb.map { $0 * 1024 }
    }
    return nil
}

/// CPU time (user + system) the process has used so far.
public enum ProcessCPU {
    public static func seconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return s(usage.ru_utime) + s(usage.ru_stime)
    }
}
