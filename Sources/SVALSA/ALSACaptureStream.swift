import SVStreaming

extension CaptureStream {
    /// A capture thread on the ALSA PCM `device` (or one defined by `configuration`, alsa-lib's configuration
    /// syntax, e.g. a `file` plugin device for tests and replays), asking for `sampleRate`: the device may
    /// deliver another (`format.sampleRate`). The ring holds 4 s at 48 kHz or at `sampleRate` when higher.
    public static func alsa(device: String, configuration: String? = nil, sampleRate: Int, pacedByClock: Bool = false,
                            reconnect: ReconnectPolicy? = nil,
                            onPeriod: (@Sendable () -> Void)? = nil) throws(CaptureError) -> CaptureStream {
        try CaptureStream(ringCapacity: 4 * max(sampleRate, 48_000), pacedByClock: pacedByClock, reconnect: reconnect, onPeriod: onPeriod) {
            () throws(CaptureError) in
            try ALSACapture(device: device, configuration: configuration, sampleRate: sampleRate)
        }
    }
}
