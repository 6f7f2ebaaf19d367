import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import FiredrillCore

/// Reports and the scorecard through the binary, on lab drills: every format masks a planted
/// secret, the HTML renders in a real headless Chromium with no network request, the history
/// adds the review and the previous drill, the scorecard tells a changed playbook and a service
/// never drilled, and bad input is refused.
@Suite struct ReportCLITests {
    typealias Scenario = DrillScenarioTests

    @Test func aPlantedSecretAppearsInNoFormatAndTheJUnitParses() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let runs = Scenario.runsDir(in: lab)
        try FileManager.default.createDirectory(atPath: runs, withIntermediateDirectories: true)
        let pb = "\(lab.dir)/secret.yml"
        try """
        name: Secret handling
        service: secret-probe
        criticality: high
        secrets: { api_token: env:FD_TEST_TOKEN }
        checks:
          echoes_token: { command: "echo {{ api_token }}", on: db1 }
        steady_state: [echoes_token]
        steps:
          - name: "Use the token {{ api_token }}"
            on: db1
            run: "echo token={{ api_token }}; echo {{ api_token }} >&2; exit 3"
        restore:
          - { name: Echo again, on: db1, run: "echo {{ api_token }}" }
        """.write(toFile: pb, atomically: true, encoding: .utf8)
        let token = "s3cr3t-\(UUID().uuidString.prefix(12))"
        let run = try Firedrill.run(["run", pb, "-i", lab.inventory, "--yes", "--output", "plain", "--runs-dir", runs], environment: ["FD_TEST_TOKEN": token])
        #expect(run.status == 1, "\(run.stdout)\(run.stderr)")
        for format in DrillReport.Format.allCases {
            let r = try Firedrill.run(["report", "latest", "--runs-dir", runs, "--format", format.rawValue], environment: ["FD_TEST_TOKEN": token])
            #expect(r.status == 0, "\(format): \(r.stderr)")
            #expect(!r.stdout.contains(token) && !r.stderr.contains(token), "\(format) shows the secret")
            #expect(r.stdout.contains(Secret.mask), "\(format) shows the masked value")
        }
        // To a file, whole: the JUnit parses and carries the failed step as a failure.
        let out = lab.dir + "/reports/drill.xml"
        try FileManager.default.createDirectory(atPath: lab.dir + "/reports", withIntermediateDirectories: true)
        let w = try Firedrill.run(["report", "latest", "--runs-dir", runs, "--format", "junit", "-o", out])
        #expect(w.status == 0 && w.stderr.contains("wrote \(out)"), "\(w.stderr)")
        let doc = try JUnitXML(try String(contentsOfFile: out, encoding: .utf8))
        #expect(doc.failures.contains { $0.contains("exit 3") }, "\(doc.failures)")
        #expect(!(try String(contentsOfFile: out, encoding: .utf8)).contains(token))
    }

    @Test func theHTMLReportRendersInChromiumWithNoRequestAndALanePerStep() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let runs = Scenario.runsDir(in: lab)
        let db = lab.dir + "/history.sqlite"
        let base = ["-i", lab.inventory, "--yes", "--manual=pass", "--output", "plain", "--runs-dir", runs, "--db", db]
        let first = try Firedrill.run(["run", TestLab.simulatedEHR] + base)
        #expect(first.status == 0, "\(first.stdout)")
        let (firstID, _) = Scenario.journal(runs)
        let ann = try Firedrill.run(["annotate", firstID ?? "", "--db", db, "--verdict", "partial", "--note", "pharmacy confirmed late",
                                     "--action", "pharmacy-lead: print the order list earlier, due 2099-01-15", "--by", "alice"])
        #expect(ann.status == 0, "\(ann.stderr)")
        let second = try Firedrill.run(["run", TestLab.simulatedEHR] + base)
        #expect(second.status == 0, "\(second.stdout)")

        // The second drill's report compares with the first; the first's carries the review.
        let json = try Firedrill.run(["report", "latest", "--runs-dir", runs, "--db", db, "--format", "json"])
        let report = try JSONDecoder().decode(DrillReport.self, from: Data(json.stdout.utf8))
        #expect(report.previous?.run == firstID && report.trend.count == 2 && report.evidence.chainVerified)
        let reviewed = try Firedrill.run(["report", firstID ?? "", "--runs-dir", runs, "--db", db, "--format", "markdown"])
        #expect(reviewed.stdout.contains("print the order list earlier") && reviewed.stdout.contains("verdict **partial**"))

        let html = lab.dir + "/report.html"
        let w = try Firedrill.run(["report", "latest", "--runs-dir", runs, "--db", db, "--format", "html", "-o", html])
        #expect(w.status == 0, "\(w.stderr)")
        let browser = try Chromium(dir: lab.dir)
        let page = try browser.load(html)
        #expect(page.requests.isEmpty, "the report asked for \(page.requests)")
        #expect(page.dom.components(separatedBy: "class=\"lane\"").count - 1 == report.timeline.count)
        #expect(page.dom.contains("class=\"rto-bar\"") && page.dom.contains("outage"))
        let blank = lab.dir + "/blank.html"
        try "<!DOCTYPE html><html><body></body></html>".write(toFile: blank, atomically: true, encoding: .utf8)
        let shot = try browser.screenshot(html), empty = try browser.screenshot(blank)
        #expect(shot.count > empty.count * 4, "the screenshot looks blank: \(shot.count) bytes against \(empty.count) for an empty page")
        // The detector sees a request when a page makes one (it would catch ours).
        let leaky = lab.dir + "/leaky.html"
        try "<!DOCTYPE html><html><body><img src=\"http://127.0.0.1:9/pixel.png\"></body></html>".write(toFile: leaky, atomically: true, encoding: .utf8)
        #expect(try browser.load(leaky).requests.contains { $0.contains("127.0.0.1:9/pixel.png") })
    }

    @Test func theScorecardTellsOkNeverDrilledAndAChangedPlaybook() throws {
        let lab = try TestLab.start(hosts: 2)
        defer { lab.stop() }
        let runs = Scenario.runsDir(in: lab)
        let db = lab.dir + "/history.sqlite"
        // A copy of the example playbooks, drilled with the lab's inventory.
        let books = lab.dir + "/Playbooks"
        try FileManager.default.copyItem(atPath: Firedrill.repoRoot + "/Playbooks", toPath: books)
        // The EHR example drills a real PostgreSQL; this lab's database is simulated.
        let ehr = books + "/ehr-db-failover.yml"
        try String(contentsOfFile: Firedrill.repoRoot + "/" + TestLab.simulatedEHR, encoding: .utf8)
            .replacingOccurrences(of: "inventory: ../../../../Inventory/", with: "inventory: ../Inventory/")
            .write(toFile: ehr, atomically: true, encoding: .utf8)
        let run = try Firedrill.run(["run", ehr, "-i", lab.inventory, "--yes", "--manual=pass", "--output", "plain", "--runs-dir", runs, "--db", db])
        #expect(run.status == 0, "\(run.stdout)")
        func card() throws -> Scorecard {
            let r = try Firedrill.run(["scorecard", "--dir", books, "-i", lab.inventory, "--db", db, "--format", "json"])
            #expect(r.status == 0, "\(r.stderr)")
            return try JSONDecoder().decode(Scorecard.self, from: Data(r.stdout.utf8))
        }
        let before = try card()
        let row = try #require(before.services.first { $0.service == "ehr-db" })
        #expect(row.status == .ok && row.score == 89 && row.grade == "B" && row.components.count == 5, "\(row)")
        #expect(row.components.first { $0.id == .restore }?.earned == 20)
        let others = before.services.filter { $0.service != "ehr-db" }
        #expect(!others.isEmpty && others.allSatisfy { $0.status == .neverDrilled && $0.counted == 0 })
        let weights = before.services.reduce(0) { $0 + $1.weight }
        #expect(abs(before.readiness - (row.weight * 89 / weights)) < 0.06, "never drilled counts 0: \(before.readiness)")
        #expect(before.services.last?.service == "ehr-db", "worst first")
        // Without -i the playbook's own inventory is read: not a change, another file, said so.
        try FileManager.default.copyItem(atPath: Firedrill.repoRoot + "/Inventory", toPath: lab.dir + "/Inventory")
        let plain = try Firedrill.run(["scorecard", "--dir", books, "--db", db, "--format", "json"])
        let elsewhere = try #require(try JSONDecoder().decode(Scorecard.self, from: Data(plain.stdout.utf8)).services.first { $0.service == "ehr-db" })
        #expect(elsewhere.status == .needsVerification && elsewhere.reason.contains("ran with the inventory \(lab.inventory)")
                && elsewhere.reason.contains("pass -i \(lab.inventory)"), "\(elsewhere.reason)")
        // The text and HTML say the same.
        let text = try Firedrill.run(["scorecard", "--dir", books, "-i", lab.inventory, "--db", db])
        #expect(text.stdout.contains("never drilled") && text.stdout.contains("ehr-db"))
        let html = try Firedrill.run(["scorecard", "--dir", books, "-i", lab.inventory, "--db", db, "--format", "html"])
        #expect(html.stdout.components(separatedBy: "<g class=\"service\"").count - 1 == before.services.count)
        // Editing the playbook makes the old evidence stale.
        try (try String(contentsOfFile: ehr, encoding: .utf8) + "\n# reviewed after the drill\n").write(toFile: ehr, atomically: true, encoding: .utf8)
        let after = try card()
        let changed = try #require(after.services.first { $0.service == "ehr-db" })
        #expect(changed.status == .needsVerification && changed.reason.contains("the playbook changed"), "\(changed)")
        // A playbook that does not load is a row of its own; the others are still scored, and the exit is 2.
        try "name: [unclosed\n".write(toFile: books + "/broken.yml", atomically: true, encoding: .utf8)
        try (try String(contentsOfFile: ehr, encoding: .utf8)).write(toFile: books + "/ehr-copy.yml", atomically: true, encoding: .utf8)
        let mixed = try Firedrill.run(["scorecard", "--dir", books, "-i", lab.inventory, "--db", db, "--format", "json"])
        #expect(mixed.status == 2 && mixed.stderr.contains("broken.yml") && mixed.stderr.contains("both playbooks of service ehr-db"), "\(mixed.stderr)")
        let withBroken = try JSONDecoder().decode(Scorecard.self, from: Data(mixed.stdout.utf8))
        #expect(withBroken.services.contains { $0.status == .invalid && $0.playbook.hasSuffix("broken.yml") })
        #expect(withBroken.services.filter { $0.service == "ehr-db" }.count == 1)
        try FileManager.default.removeItem(atPath: books + "/broken.yml")
        try FileManager.default.removeItem(atPath: books + "/ehr-copy.yml")
        // So does another inventory.
        let other = try Firedrill.run(["scorecard", ehr, "--db", db, "--format", "json"])
        let viaHospital = try JSONDecoder().decode(Scorecard.self, from: Data(other.stdout.utf8))
        #expect(viaHospital.services.first?.reason.contains("inventory") == true)
    }

    @Test func aDamagedJournalIsReportedAsDamagedAndBadInputIsRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-report-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var lines = try String(contentsOfFile: Firedrill.repoRoot + "/Tests/FiredrillCoreTests/Fixtures/reports/passed.jsonl", encoding: .utf8)
            .split(separator: "\n").map(String.init)
        lines[30] = lines[30].replacingOccurrences(of: "\"event\":", with: "\"event\" :")
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/journal.jsonl", atomically: true, encoding: .utf8)
        let damaged = try Firedrill.run(["report", dir + "/journal.jsonl"])
        #expect(damaged.status == 1 && damaged.stdout.contains("JOURNAL DAMAGED") && damaged.stderr.contains("damaged"), "\(damaged.stderr)")
        for (args, says) in [(["report", "no-such-run", "--runs-dir", dir], "no run 'no-such-run'"),
                             (["report", "latest", "--runs-dir", dir, "--format", "pdf"], "format"),
                             (["report", dir + "/journal.jsonl", "-o", "/proc/version/report.html"], "does not exist"),
                             (["report", dir + "/journal.jsonl", "-o", dir + "/journal.jsonl"], "would be overwritten"),
                             (["report", dir, "-o", ""], "needs a file name"),
                             (["report", dir, "--framework", "gdpr"], "--framework: unknown 'gdpr'"),
                             (["scorecard"], "--dir"),
                             (["scorecard", "--dir", dir + "/missing"], "not a folder"),
                             (["scorecard", "--dir", dir], "no playbook")] {
            let r = try Firedrill.run(args)
            #expect(r.status == 2 && r.stderr.contains(says), "\(args): \(r.status) \(r.stderr)")
            #expect(!r.stderr.contains("Swift") && !r.stderr.contains("Error("), "\(r.stderr)")
        }
    }
}

/// The report and the scorecard as printed: chromium's `--print-to-pdf`, read back with
/// poppler (`pdfinfo`, `pdftotext`), on journals recorded on the lab.
@Suite struct PrintTests {
    static let fixtures = Firedrill.repoRoot + "/Tests/FiredrillCoreTests/Fixtures/reports"

    func tool(_ name: String, _ args: [String]) throws -> String {
        let r = try Chromium.exec("/usr/bin/\(name)", args)
        guard r.status == 0 else { throw Journal.Failure(message: "\(name) failed (\(r.status)); apt-get install poppler-utils") }
        return r.stdout
    }

    func pages(_ pdf: String) throws -> (count: Int, width: Double, height: Double) {
        let info = try tool("pdfinfo", [pdf])
        let count = info.split(separator: "\n").first { $0.hasPrefix("Pages:") }.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
        let size = info.split(separator: "\n").first { $0.hasPrefix("Page size:") }.map { $0.split(separator: " ").compactMap { Double($0) } } ?? []
        return (count, size.first ?? 0, size.dropFirst().first ?? 0)
    }

    /// The failed and the passed EHR drills print compactly: at most 9 Letter pages, the
    /// headline on the first, no page ending on a heading, the timeline's lane labels whole
    /// and at least 7 points high.
    @Test(arguments: ["failed", "passed", "interrupted"]) func theReportPrintsCompactlyWithHeadingsKeptWithTheirContent(_ name: String) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-print-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let html = "\(dir)/\(name).html", pdf = "\(dir)/\(name).pdf"
        let r = try Firedrill.run(["report", "\(Self.fixtures)/\(name).jsonl", "--format", "html", "-o", html, "--db", "\(dir)/none.sqlite"])
        #expect(r.status == 0, "\(r.stderr)")
        let chromium = try Chromium(dir: dir)
        _ = try chromium.browser(["--no-pdf-header-footer", "--print-to-pdf=\(pdf)", "file://\(html)"])
        let (count, width, height) = try pages(pdf)
        #expect(count >= 2 && count <= 9, "\(name) prints to \(count) pages")
        #expect(width == 612 && height == 792, "Letter portrait: \(width)×\(height)")
        let source = try String(contentsOfFile: html, encoding: .utf8)
        let headings = Set(source.matches(of: /<h[23][^>]*>(.*?)<\/h[23]>/).map { String($0.output.1).replacingOccurrences(of: "<[^>]+>", with: "", options: .regularExpression) })
        #expect(headings.contains("Timeline") && headings.contains("Evidence"))
        for page in 1...max(1, count) {
            // -layout: a page's lines as printed (a table's header cells stay on their row).
            let text = try tool("pdftotext", ["-layout", "-f", "\(page)", "-l", "\(page)", pdf, "-"])
            let last = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.last { !$0.isEmpty && $0 != "\u{0C}" } ?? ""
            #expect(!headings.contains(last), "page \(page) of \(count) ends with the heading \(last)")
            if page == 1 { #expect(text.contains("Overview") && (name == "passed" || text.contains("Cause")), "page 1: \(text)") }
        }
        // The timeline's lane labels: whole (the longest step name is there in one line) and legible.
        let bbox = try tool("pdftotext", ["-bbox", pdf, "-"])
        let label = try #require(bbox.matches(of: /yMin="([0-9.]+)" xMax="[0-9.]+" yMax="([0-9.]+)">restore\.1<\/word>/).first)
        #expect((Double(label.output.2) ?? 0) - (Double(label.output.1) ?? 0) >= 7, "the lane label is \(label.output.2) − \(label.output.1) points high")
        let plain = try tool("pdftotext", [pdf, "-"])
        #expect(plain.contains("restore.1 Rejoin old primary as standby —"), "a lane label was cut")
    }

    /// The scorecard prints across the page, and says when it was made.
    @Test func theScorecardPrintsInLandscapeWithItsTime() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-print-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let html = "\(dir)/card.html", pdf = "\(dir)/card.pdf"
        let r = try Firedrill.run(["scorecard", "--dir", Firedrill.repoRoot + "/Playbooks", "--format", "html", "-o", html, "--db", "\(dir)/h.sqlite"])
        #expect(r.status == 0, "\(r.stderr)")
        let chromium = try Chromium(dir: dir)
        _ = try chromium.browser(["--no-pdf-header-footer", "--print-to-pdf=\(pdf)", "file://\(html)"])
        let (count, width, height) = try pages(pdf)
        #expect(count >= 1 && width > height, "\(count) pages of \(width)×\(height)")
        #expect(try tool("pdftotext", [pdf, "-"]).contains("Generated 20"))
        let json = try Firedrill.run(["scorecard", "--dir", Firedrill.repoRoot + "/Playbooks", "--format", "json", "--db", "\(dir)/h.sqlite"])
        #expect(json.stdout.contains("\"generated_at\" : \"20"), "\(json.stdout.prefix(300))")
    }
}

/// Debian's `chromium`, headless, in a network namespace of its own when the machine allows it
/// and always behind a proxy on a dead loopback port: nothing it asks for can leave the machine.
/// The net log says what a page asked for; the browser's own service requests are left out.
struct Chromium {
    let dir: String
    let path = "/usr/bin/chromium"
    let isolated: Bool

    struct Page { var dom: String; var requests: [String] }

    init(dir: String) throws {
        self.dir = dir
        guard FileManager.default.isExecutableFile(atPath: path) else { throw Journal.Failure(message: "chromium is not installed (apt-get install chromium)") }
        isolated = (try? Chromium.exec("/usr/bin/unshare", ["--net", "true"]).status) == 0
    }

    var flags: [String] {
        ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-default-apps", "--no-pings", "--disable-breakpad",
         "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>", "--user-data-dir=\(dir)/chromium-\(UUID().uuidString.prefix(6))"]
    }

    func browser(_ args: [String]) throws -> (status: Int32, stdout: String) {
        isolated ? try Self.exec("/usr/bin/unshare", ["--net", path] + flags + args) : try Self.exec(path, flags + args)
    }

    func load(_ file: String) throws -> Page {
        let log = "\(dir)/net-\(UUID().uuidString.prefix(6)).json"
        let r = try browser(["--log-net-log=\(log)", "--dump-dom", "file://\(file)"])
        let net = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        var urls = Set<String>()
        var rest = Substring(net)
        while let start = rest.range(of: "\"url\":\"") {
            rest = rest[start.upperBound...]
            guard let end = rest.firstIndex(of: "\"") else { break }
            urls.insert(String(rest[..<end]))
        }
        let browserOwn = ["google.com", "googleapis.com", "gvt1.com", "gstatic.com", "chrome://", "chrome-extension://"]
        return Page(dom: r.stdout, requests: urls.filter { u in !u.hasPrefix("file://") && !u.hasPrefix("data:") && !browserOwn.contains { u.contains($0) } }.sorted())
    }

    func screenshot(_ file: String) throws -> Data {
        let png = "\(dir)/shot-\(UUID().uuidString.prefix(6)).png"
        _ = try browser(["--window-size=1200,2400", "--screenshot=\(png)", "file://\(file)"])
        return try Data(contentsOf: URL(fileURLWithPath: png))
    }

    /// Runs a program to its end within two minutes (then kills it by PID).
    static func exec(_ path: String, _ args: [String]) throws -> (status: Int32, stdout: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("chromium-out-\(UUID().uuidString)").path
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: out) }
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        let done = DispatchSemaphore(value: 0)
        p.terminationHandler = { _ in done.signal() }
        try p.run()
        if done.wait(timeout: .now() + 120) == .timedOut {
            kill(p.processIdentifier, SIGKILL)
            done.wait()
            throw Journal.Failure(message: "\(path) did not finish within 2 minutes")
        }
        return (p.terminationStatus, (try? String(contentsOfFile: out, encoding: .utf8)) ?? "")
    }
}

/// Failure and error messages of a JUnit document, as libxml2 (FoundationXML) parses it.
struct JUnitXML {
    var failures: [String] = []

    init(_ xml: String) throws {
        final class D: NSObject, XMLParserDelegate {
            var failures: [String] = []
            func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes a: [String: String] = [:]) {
                if name == "failure" || name == "error" { failures.append(a["message"] ?? "") }
            }
        }
        let d = D()
        let parser = XMLParser(data: Data(xml.utf8))
        parser.delegate = d
        guard parser.parse() else { throw Journal.Failure(message: "not well-formed XML") }
        failures = d.failures
    }
}
