/// Why capture failed; each case names the device.
public enum CaptureError: Error, Equatable, CustomStringConvertible {
    case open(device: String, reason: String)
    case configure(device: String, step: String, reason: String)
    case read(device: String, reason: String)
    /// The device disappeared or stopped working (unplugged, driver gone): reopen it to continue.
    case deviceGone(device: String, reason: String)

    public var description: String {
        switch self {
        case .open(let d, let r): return "cannot open capture device '\(d)': \(r) (list devices with 'spkv devices')"
        case .configure(let d, let s, let r): return "capture device '\(d)' does not accept the setting \(s): \(r)"
        case .read(let d, let r): return "reading from capture device '\(d)' failed: \(r)"
        case .deviceGone(let d, let r): return "capture device '\(d)' is gone: \(r); check the microphone, then retry"
        }
    }
}
