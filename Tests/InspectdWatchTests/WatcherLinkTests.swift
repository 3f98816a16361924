import Foundation
import InspectdFiles
import InspectdWatch
import Testing

/// One policy for symbolic links, at start-up, live and when polled: never taken as frames (a link
/// could point at any file the daemon may read), each reported once.
@Suite struct WatcherLinkTests {
    @Test(arguments: [false, true])
    func linksAreReportedNeverTaken(polled: Bool) async throws {
        let folder = try TemporaryFolder()
        let outside = try TemporaryFolder()
        let secret = try outside.writeOld("secret.png")
        try folder.writeOld("real.png")
        try FileManager.default.createSymbolicLink(at: folder.path("at-start.png"), withDestinationURL: secret)
        let run = WatchRun(cameras: [camera(folder.url, pollInterval: polled ? .milliseconds(100) : nil)])
        #expect(await run.started())
        #expect(await eventually { run.arrivals(named: "real.png") == 1 })

        // Live: made in place, and moved in from elsewhere.
        try FileManager.default.createSymbolicLink(at: folder.path("live.png"), withDestinationURL: secret)
        try FileManager.default.createSymbolicLink(at: outside.path("moved.png"), withDestinationURL: secret)
        try FileManager.default.moveItem(at: outside.path("moved.png"), to: folder.path("moved.png"))
        try folder.write("sentinel.png")
        #expect(await eventually { run.arrivals(named: "sentinel.png") == 1 })
        #expect(await eventually { run.ignoredLinks.count == 3 })
        await run.stop()
        #expect(run.arrivedNames == ["real.png", "sentinel.png"])
        #expect(Set(run.ignoredLinks.map { ($0 as NSString).lastPathComponent }) == ["at-start.png", "live.png", "moved.png"])
    }
}
