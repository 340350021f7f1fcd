import Foundation
import Testing
import _SVTestSupport

/// `spkv devices` lists capture PCMs from alsa-lib's hints, also on a machine without a sound card.
@Suite struct CLIDevicesTests {
    @Test func listsCapturePCMsAsTextOrJSON() throws {
        let text = try spkv("devices")
        #expect(text.status == 0, "\(text)")
        let json = try spkv("devices", "--json")
        #expect(json.status == 0 && json.stdoutLines.count == text.stdoutLines.count, "\(json)")
        for line in json.stdoutLines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
            #expect(object?["name"]?.isEmpty == false, "\(line)")
        }
        // alsa.conf always defines the `null` PCM, which can capture (zeros).
        #expect(text.stdoutLines.contains { $0.hasPrefix("null") }, "\(text)")
    }
}
