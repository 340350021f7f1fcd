import ArgumentParser
import Foundation
import SpeakerVerification
import SVALSA
import SVStreaming

struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the ALSA PCMs that can capture (names for --device).",
        discussion: "Names come from alsa-lib's device hints (cards, plugins and PCMs defined in the ALSA configuration).")

    @Flag(help: "One JSON object per device.") var json = false

    func run() throws {
        let devices = ALSACapture.captureDevices()
        if devices.isEmpty { FileHandle.standardError.write(Data("spkv: no capture devices found (no sound card and no capture PCM in the ALSA configuration)\n".utf8)) }
        for d in devices {
            if json {
                let data = try JSONSerialization.data(withJSONObject: ["name": d.name, "description": d.description], options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print(d.description.isEmpty ? d.name : "\(d.name)\t\(d.description)")
            }
        }
    }
}
