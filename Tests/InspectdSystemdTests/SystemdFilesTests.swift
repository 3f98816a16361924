import Foundation
import InspectdSystemd
import Testing

/// The repository's systemd/ folder, found from this file's place in Tests/InspectdSystemdTests.
private let systemdFolder = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("systemd")

private let systemdAnalyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
    .first { FileManager.default.isExecutableFile(atPath: $0) }

@Suite struct SystemdFilesTests {
    struct CatalogEntry {
        var id: String
        var headers: [String: String] = [:]
        var body = ""
    }

    /// The catalog's entries: a `-- <id>` line, `Key: value` headers, an empty line, the body.
    func catalogEntries() throws -> [CatalogEntry] {
        let text = try String(contentsOf: systemdFolder.appendingPathComponent("inspectd.catalog"), encoding: .utf8)
        var entries: [CatalogEntry] = []
        var inHeaders = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("-- ") {
                entries.append(CatalogEntry(id: String(line.dropFirst(3))))
                inHeaders = true
            } else if entries.isEmpty || line.hasPrefix("#") {
                continue
            } else if inHeaders, line.isEmpty {
                inHeaders = false
            } else if inHeaders {
                let parts = line.split(separator: ":", maxSplits: 1)
                try #require(parts.count == 2, "catalog header line without ':' in entry \(entries.last!.id): \(line)")
                entries[entries.count - 1].headers[String(parts[0])] = parts[1].trimmingCharacters(in: .whitespaces)
            } else {
                entries[entries.count - 1].body += line + "\n"
            }
        }
        return entries
    }

    @Test func everyMessageIDHasExactlyOneCatalogEntry() throws {
        let entries = try catalogEntries()
        for message in JournalMessageID.allCases {
            #expect(entries.filter { $0.id == message.id }.count == 1, "\(message.name) \(message.id)")
        }
        let known = Set(JournalMessageID.allCases.map(\.id))
        #expect(entries.filter { !known.contains($0.id) }.map(\.id) == [], "catalog entries for no JournalMessageID")
    }

    @Test func idsAreDistinct128BitHex() {
        let ids = JournalMessageID.allCases.map(\.id)
        #expect(Set(ids).count == ids.count)
        for id in ids {
            #expect(id.wholeMatch(of: /[0-9a-f]{32}/) != nil, "\(id)")
        }
    }

    @Test func catalogEntriesHaveSubjectOriginAndKnownFields() throws {
        let fields = Set([JournalField.verdict, JournalField.score, JournalField.product, JournalField.camera,
                          JournalField.file, JournalField.heatmap, JournalField.model, JournalField.reason])
        for entry in try catalogEntries() {
            #expect(entry.headers["Subject"]?.isEmpty == false, "\(entry.id) has no Subject")
            #expect(entry.headers["Defined-By"] == "inspectd", "\(entry.id)")
            #expect(!entry.body.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(entry.id) has no body")
            // A misspelt @FIELD@ would show literally in `journalctl -x`.
            let text = (entry.headers["Subject"] ?? "") + entry.body
            for match in text.matches(of: /@([A-Z0-9_]+)@/) {
                #expect(fields.contains(String(match.1)), "\(entry.id) refers to unknown field \(match.1)")
            }
        }
    }

    /// `systemd-analyze verify` on the unit (with a stand-in for the inspectd binary it insists
    /// exists), and its sandbox exposure, which must stay at most 2.5.
    @Test(.enabled(if: systemdAnalyze != nil, "systemd-analyze is not installed"))
    func unitVerifiesAndStaysSandboxed() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("unit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let standIn = scratch.appendingPathComponent("inspectd")
        try "#!/bin/sh\nexit 0\n".write(to: standIn, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: standIn.path)

        let original = try String(contentsOf: systemdFolder.appendingPathComponent("inspectd.service"), encoding: .utf8)
        let execStart = "ExecStart=/usr/bin/inspectd run --config /etc/inspectd/inspectd.toml\n"
        #expect(original.contains("\n" + execStart))
        let unit = scratch.appendingPathComponent("inspectd.service")
        try original.replacingOccurrences(of: execStart, with: "ExecStart=\(standIn.path) run --config /etc/inspectd/inspectd.toml\n")
            .write(to: unit, atomically: true, encoding: .utf8)

        // Even offline, systemd-analyze touches /run/systemd/systemd-units-load, PID 1's marker of its
        // last unit load; where possible it gets a /run of its own so the host's stays as it was.
        let analyze: @Sendable () throws -> [(status: Int32, output: String)] = {
            [try runCommand(systemdAnalyze!, ["verify", "--man=no", unit.path], includingErrors: true),
             try runCommand(systemdAnalyze!, ["security", "--offline=yes", "--threshold=25", unit.path],
                            includingErrors: true)]
        }
        let results = PrivateMountNamespace.isAvailable
            ? try await PrivateMountNamespace.run(tmpfsOver: ["/run"], analyze) : try analyze()
        let (verify, security) = (results[0], results[1])
        // Unknown or misspelt keys are only warnings for verify, so any output is a failure.
        #expect(verify.status == 0 && verify.output.isEmpty, "systemd-analyze verify: \(verify.output)")
        #expect(security.status == 0, "exposure above 2.5: \(security.output.split(separator: "\n").last ?? "")")
    }
}
