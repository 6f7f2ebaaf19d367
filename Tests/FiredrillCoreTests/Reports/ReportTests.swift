import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import FiredrillCore

/// Reports of journals recorded on the lab (Fixtures/reports: a passed drill, a failed restore,
/// an interrupted drill, steady state not met, a host unreachable), against golden files, and
/// the JUnit and JSON shapes checked by parsers that are not our writers.
/// `UPDATE_GOLDEN=1 swift test --filter ReportTests` rewrites the golden files after a deliberate change.
@Suite struct ReportTests {
    static let dir = Fixtures.root + "/reports"
    static let runs = ["passed", "failed", "interrupted", "preconditions", "unreachable"]

    func report(_ name: String, history: ReportHistory = ReportHistory(note: "no history database given")) throws -> DrillReport {
        let path = "\(Self.dir)/\(name).jsonl"
        let c = try JournalReader.read(path: path)
        return DrillReport(record: DrillRecord.fold(c.events), journal: "FIXTURES/\(name).jsonl", events: c.events.count, headHash: c.lastHash,
                           problem: c.problem, sealed: true, history: history, reportVersion: "TEST")
    }

    @Test(arguments: runs) func everyFormatMatchesItsGoldenFile(_ name: String) throws {
        let r = try report(name)
        for (format, ext) in [(DrillReport.Format.text, "txt"), (.markdown, "md"), (.json, "json"), (.junit, "xml")] {
            let text = try r.rendered(format)
            let golden = "\(Self.dir)/golden/\(name).\(ext)"
            if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
                try FileManager.default.createDirectory(atPath: Self.dir + "/golden", withIntermediateDirectories: true)
                try text.write(toFile: golden, atomically: true, encoding: .utf8)
            }
            let expected = try String(contentsOfFile: golden, encoding: .utf8)
            #expect(text == expected, "\(name).\(ext) differs from its golden file (UPDATE_GOLDEN=1 after a deliberate change)")
        }
    }

    @Test(arguments: runs) func textFitsEightyColumnsWithoutColourWhenNotATerminal(_ name: String) throws {
        let text = try report(name).rendered(.text)
        for line in text.split(separator: "\n") { #expect(line.count <= 80, "too wide: \(line)") }
        #expect(!text.contains("\u{1B}["))
        let coloured = try report(name).rendered(.text, style: TerminalStyle(enabled: true))
        #expect(TerminalText.forTerminal(coloured).contains("\u{1B}["), "the styling becomes escape codes on the way out")
        for line in coloured.split(separator: "\n") { #expect(TerminalText.visibleCount(String(line)) <= 80, "too wide in colour: \(line)") }
    }

    @Test func unreachableHostsAreListedInEveryFormat() throws {
        let r = try report("unreachable")
        #expect(r.scope.unreachable == ["db2"])
        for format in DrillReport.Format.allCases {
            let text = try r.rendered(format)
            #expect(text.contains("db2") && text.uppercased().contains("UNREACHABLE"), "\(format)")
        }
        // JUnit: an error of the preflight suite, with the reason.
        let junit = try JUnitDocument(try r.rendered(.junit))
        let db2 = try #require(junit.cases.first { $0.name.contains("host db2 reachable") })
        #expect(db2.error?.contains("connection refused") == true && db2.suite.hasSuffix(".preflight"))
    }

    @Test(arguments: runs) func junitCountsAreConsistentAndEveryHostAppears(_ name: String) throws {
        let r = try report(name)
        let doc = try JUnitDocument(try r.rendered(.junit))
        #expect(doc.rootName == "testsuites")
        for s in doc.suites {
            let cases = doc.cases.filter { $0.suite == s.name }
            #expect(s.tests == cases.count, "\(s.name) tests")
            #expect(s.failures == cases.filter { $0.failure != nil }.count, "\(s.name) failures")
            #expect(s.errors == cases.filter { $0.error != nil }.count, "\(s.name) errors")
            #expect(s.skipped == cases.filter(\.skipped).count, "\(s.name) skipped")
        }
        #expect(doc.total.tests == doc.cases.count && doc.total.failures == doc.cases.filter { $0.failure != nil }.count)
        #expect(doc.total.errors == doc.cases.filter { $0.error != nil }.count && doc.total.skipped == doc.cases.filter(\.skipped).count)
        for h in r.scope.hosts { #expect(doc.cases.contains { $0.name.contains("host \(h.name) reachable") }) }
        // One testcase per step × host that ran.
        for s in r.timeline where s.result != .notRun && s.result != .skipped {
            for h in s.hosts { #expect(doc.cases.contains { $0.name == "\(s.id) \(s.name) @ \(h.host)" }, "\(s.id)@\(h.host)") }
        }
        // A failed drill has failures; a passed one has none.
        #expect((r.overview.result == .passed) == (doc.total.failures == 0 && doc.total.errors == 0), "\(name)")
    }

    @Test func failedRestoreIsAFailureWithItsEvidence() throws {
        let doc = try JUnitDocument(try report("failed").rendered(.junit))
        let rejoin = try #require(doc.cases.first { $0.name.hasPrefix("restore.1") && $0.name.contains("@ db1") })
        #expect(rejoin.failure?.contains("rejoin: simulated failure") == true)
        #expect(doc.cases.first { $0.name == "restore completed" }?.failure != nil)
        #expect(doc.cases.contains { $0.name.hasPrefix("restore.2") && $0.skipped })
    }

    @Test func jsonHasItsDocumentedShape() throws {
        let r = try report("failed")
        let json = try r.rendered(.json)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["format"] as? String == "firedrill.report/1")
        let documented = try String(contentsOfFile: Fixtures.repoRoot + "/docs/report-format.md", encoding: .utf8)
        for key in object.keys { #expect(documented.contains("\"\(key)\""), "docs/report-format.md does not document \(key)") }
        for (key, value) in object {
            guard let inner = value as? [String: Any] else { continue }
            for k in inner.keys { #expect(documented.contains("\"\(k)\""), "docs/report-format.md does not document \(key).\(k)") }
        }
        #expect(try JSONDecoder().decode(DrillReport.self, from: Data(json.utf8)) == r)
    }

    @Test func aTamperedJournalIsReportedAsDamagedInEveryFormat() throws {
        var lines = try String(contentsOfFile: "\(Self.dir)/passed.jsonl", encoding: .utf8).split(separator: "\n").map(String.init)
        let original = lines[20]
        lines[20] = lines[20].replacingOccurrences(of: "\"event\":", with: "\"event\" :")
        #expect(lines[20] != original)
        let c = JournalReader.verify(Data((lines.joined(separator: "\n") + "\n").utf8))
        #expect(c.problem != nil)
        let r = DrillReport(record: DrillRecord.fold(c.events), journal: "tampered.jsonl", events: c.events.count, headHash: c.lastHash,
                            problem: c.problem, sealed: false, history: ReportHistory(), reportVersion: "TEST")
        #expect(!r.evidence.chainVerified)
        for format in DrillReport.Format.allCases {
            let text = try r.rendered(format)
            #expect(text.contains("DAMAGED") || text.contains("\"chain_verified\" : false"), "\(format)")
        }
    }

    /// A copy of a fixture journal (with its seal unless told otherwise) in a folder of its own, lines changed by `edit`.
    func copy(_ name: String, sealed: Bool = true, _ edit: (inout [String]) -> Void = { _ in }) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-report-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var lines = try String(contentsOfFile: "\(Self.dir)/\(name).jsonl", encoding: .utf8).split(separator: "\n").map(String.init)
        edit(&lines)
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/journal.jsonl", atomically: true, encoding: .utf8)
        if sealed { try FileManager.default.copyItem(atPath: "\(Self.dir)/\(name).jsonl.head", toPath: dir + "/journal.jsonl.head") }
        return dir + "/journal.jsonl"
    }

    @Test func aLastLineEditedAfterTheSealIsLeftOutAndNamed() async throws {
        let path = try copy("failed") { lines in
            lines[lines.count - 1] = lines[lines.count - 1].replacingOccurrences(of: "\"result\":\"failed\"", with: "\"result\":\"passed\"")
        }
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let r = try await DrillReport.load(journal: path, database: nil, reportVersion: "TEST")
        #expect(!r.evidence.chainVerified && r.evidence.problem?.contains("line 64 was changed after the run was sealed") == true, "\(r.evidence.problem ?? "")")
        #expect(r.overview.result != .passed, "the forged end is not part of the record")
    }

    @Test func aJournalCutBackWithItsSealRemovedDoesNotMatchTheHistory() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-report-db-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = try History(path: dir + "/h.sqlite")
        let original = try copy("failed")
        _ = try await db.ingest(journal: original)
        let cut = try copy("failed", sealed: false) { lines in lines.removeLast(5) }
        let r = try await DrillReport.load(journal: cut, database: dir + "/h.sqlite", reportVersion: "TEST")
        #expect(!r.evidence.chainVerified && r.evidence.problem?.contains("the history indexed this run with 64 events") == true, "\(r.evidence.problem ?? "")")
        // Without the seal, and not in a history: a warning, not damage.
        let unsealed = try copy("passed", sealed: false)
        let u = try await DrillReport.load(journal: unsealed, database: nil, reportVersion: "TEST")
        #expect(u.evidence.chainVerified && u.evidence.warnings.contains { $0.contains("no seal") })
        for format in DrillReport.Format.allCases { #expect(try u.rendered(format).contains("no seal"), "\(format)") }
    }

    @Test func historyAddsTheReviewThePreviousDrillAndTheTrend() throws {
        let action = Annotation.Action(owner: "dba-team", item: "automate the rejoin", due: "2027-01-15")
        let note = Annotation(id: 1, run: "r", journalHead: "h", verdict: .partial, note: "restore needs work", by: "lead", created: "2026-12-01T18:00:00.000Z",
                              actions: [action], prevHash: "", hash: "")
        let earlier = HistoryEntry(id: "20261101-000000-ehr-db-0000", service: "ehr-db", result: "passed", started: "2026-11-01T00:00:00.000Z", score: 95,
                                   grade: "A", rtoSeconds: 2.5, rtoObjectiveSeconds: 300, rpoSeconds: 0.5, rpoObjectiveSeconds: 30, rpoFound: true,
                                   trend: .first, previousScore: nil)
        let r = try report("failed", history: ReportHistory(inHistory: true, annotations: [note], runs: [earlier]))
        let p = try #require(r.previous)
        #expect(p.run == earlier.id && p.scoreDelta == r.score.points - 95)
        #expect(r.trend.map(\.run) == [earlier.id, r.overview.run])
        let d = try #require(r.requirements.first { $0.id == "HIPAA 164.308(a)(7)(ii)(D)" })
        #expect(d.evidence.contains("after-action review recorded") && d.evidence.contains("1 action item"))
        for format in DrillReport.Format.allCases where format != .junit {
            let text = try r.rendered(format)
            #expect(text.contains("automate the rejoin") && text.contains("2027-01-15") && text.contains("dba-team"), "\(format)")
        }
        #expect(try r.rendered(.html).contains("class=\"rto-bar\""))
    }

    /// The headline leads every format: the first finding as the cause, how long the service's
    /// checks saw it down, the operator's verdict beside the tool's result, open actions.
    @Test func theHeadlineLeadsWithTheCauseTheDowntimeTheVerdictAndOpenActions() throws {
        let failed = try report("failed")
        #expect(failed.headline.cause == failed.findings.first && failed.headline.cause != nil)
        #expect(failed.headline.moreFindings == failed.findings.count - 1)
        let passed = try report("passed")
        #expect(passed.headline.cause == nil)
        // A passing failover: down from the primary stopped to every service check answering,
        // within the measured RTO's span (both are taken from the same samples).
        let down = try #require(passed.headline.downtime)
        let rto = try #require(passed.objectives.rto.measuredSeconds)
        #expect(down.seconds != nil && abs((down.seconds ?? 0) - rto) < 1.5, "downtime \(down) against RTO \(rto)")
        #expect(down.fromOffsetMS <= (passed.objectives.rto.fromOffsetMS ?? 0) + 1_000)

        let note = Annotation(id: 1, run: passed.overview.run, journalHead: "h", verdict: .partial, note: "pharmacy could not print", by: "lead",
                              created: "2026-12-01T18:00:00.000Z", actions: [], prevHash: "", hash: "")
        var history = ReportHistory(inHistory: true, annotations: [note])
        history.openActions = [ActionItem(id: 7, run: "20261101-000000-ehr-db-0000", service: "ehr-db", owner: "dba-team", item: "automate the rejoin",
                                          due: "2027-01-15", status: "open", doneAt: nil, doneBy: nil)]
        let annotated = try report("passed", history: history)
        #expect(annotated.headline.operatorVerdict == .partial && annotated.headline.disagrees)
        /// The text as read: lines wrapped at 80 columns joined, HTML's escaped quote read back.
        func read(_ text: String) -> String {
            text.replacingOccurrences(of: "&#39;", with: "'").replacingOccurrences(of: "&apos;", with: "'")
                .replacingOccurrences(of: "\\n +", with: " ", options: .regularExpression)
        }
        for format in [DrillReport.Format.text, .markdown, .html] {
            let text = read(try annotated.rendered(format))
            let verdict = try #require(text.range(of: "partial (lead) — the tool's result was PASSED"), "\(format)")
            let scope = try #require(text.range(of: "Scope"), "\(format)")
            #expect(verdict.lowerBound < scope.lowerBound, "\(format): the verdict comes after the scope")
            #expect(text.contains("#7 dba-team: automate the rejoin, due 2027-01-15 (from 20261101-000000-ehr-db-0000)"), "\(format)")
        }
        for format in [DrillReport.Format.text, .markdown, .html] {
            let text = read(try failed.rendered(format))
            let cause = try #require(text.range(of: failed.headline.cause ?? "?"), "\(format)")
            #expect(cause.lowerBound < (text.range(of: "Scope")?.lowerBound ?? text.startIndex), "\(format): the cause is not first")
        }
    }

    /// Every framework has its rows, each quoting a clause number, with a status that follows
    /// the evidence: the review turns DORA Art. 11 and ISO 22301 8.5 from partial to evidenced.
    @Test func theRequirementMapCoversEveryFrameworkByClause() throws {
        let bare = try report("passed")
        #expect(Set(bare.requirements.map(\.framework)) == Set(DrillReport.Framework.allCases))
        for id in ["DORA Art. 11", "DORA Art. 12", "NIS2 Art. 21(2)(c)", "ISO 22301:2019 8.5", "SOC 2 A1.3", "PCI DSS v4.0.1 12.10.2"] {
            #expect(bare.requirements.contains { $0.id == id }, "\(id) is missing")
        }
        #expect(bare.requirements.first { $0.id == "DORA Art. 11" }?.status == .partial)
        #expect(bare.requirements.first { $0.id == "DORA Art. 12" }?.status == .evidenced, "restored, RPO met")
        let note = Annotation(id: 1, run: bare.overview.run, journalHead: "h", verdict: .pass, note: "ok", by: "lead", created: "2026-12-01T18:00:00.000Z",
                              actions: [], prevHash: "", hash: "")
        let reviewed = try report("passed", history: ReportHistory(inHistory: true, annotations: [note]))
        #expect(reviewed.requirements.first { $0.id == "DORA Art. 11" }?.status == .evidenced)
        #expect(reviewed.requirements.first { $0.id == "ISO 22301:2019 8.5" }?.status == .evidenced)
        let failed = try report("failed")
        #expect(failed.requirements.first { $0.id == "NIS2 Art. 21(2)(c)" }?.status == .partial, "a failed restore is not evidence of recovery")
    }

    /// Downtime from samples: a check expected up failing, then every service check answering.
    @Test func downtimeRunsFromTheFirstCheckDownToEveryServiceCheckAnswering() throws {
        var r = try report("passed")
        func sample(_ check: String, _ at: Double, _ ok: Bool, expect: Expect = .up) -> DrillReport.Check {
            DrillReport.Check(check: check, host: nil, from: nil, attempt: 1, offsetMS: at, expect: expect, outcome: ok ? .passed : .failed,
                              met: ok == (expect == .up), detail: "")
        }
        r.steadyState = [sample("api", 0, true)]
        r.finalState = [sample("api", 20_000, true)]
        for i in r.timeline.indices { r.timeline[i].verify = nil }
        let f = try #require(r.timeline.firstIndex { $0.phase == .failover })
        r.timeline[f].verify = DrillReport.Verify(withinSeconds: 30, holdSeconds: 0, passed: true, attempts: 4, detail: nil, flaps: [],
                                                  samples: [sample("db", 1_000, false, expect: .down), sample("api", 2_000, false), sample("api", 5_000, true),
                                                            sample("api", 6_000, false), sample("api", 9_500, true)])
        let d = try #require(DrillReport.downtime(r))
        #expect(d.fromOffsetMS == 1_000 && d.toOffsetMS == 9_500 && d.seconds == 8.5 && d.firstDown == "db" && d.backBy == "api")
        // Never answering again: still down when the record ends.
        r.finalState = [sample("api", 20_000, false)]
        r.timeline[f].verify?.samples.removeLast()
        let open = try #require(DrillReport.downtime(r))
        #expect(open.toOffsetMS == nil && open.text.hasPrefix("still down"))
        // Nothing ever down: no downtime.
        r.timeline[f].verify = nil
        r.finalState = [sample("api", 20_000, true)]
        #expect(DrillReport.downtime(r) == nil)
    }

    @Test func aLargeVerifyIsListedByAttemptNamingEverySampleNotMet() throws {
        var r = try report("passed")
        let crossesBefore = try r.rendered(.html).components(separatedBy: "class=\"tick-fail\"").count
        var samples: [DrillReport.Check] = []
        for attempt in 1...2 {
            for h in 1...50 {
                let met = !(attempt == 2 && h == 17)
                samples.append(.init(check: "api", host: "host\(h)", from: nil, attempt: attempt, offsetMS: Double(attempt * 1000 + h), expect: .up,
                                     outcome: met ? .passed : .failed, met: met, detail: met ? "HTTP 200" : "HTTP 503"))
            }
        }
        r.timeline[0].verify?.samples = samples
        let attempts = try #require(r.timeline[0].verify?.attemptsSummary)
        #expect(attempts.map(\.met) == [50, 49] && attempts[1].unmet.map(\.label) == ["api@host17"] && attempts[0].offsetMS == 1001)
        for format in [DrillReport.Format.text, .markdown, .html] {
            let text = try r.rendered(format)
            #expect(text.contains("49/50") && text.contains("api@host17") && text.contains("HTTP 503"), "\(format)")
            #expect(!text.contains("api@host18"), "\(format) lists samples that met one by one")
        }
        let html = try r.rendered(.html)
        #expect(html.contains("verify attempt #2") && html.components(separatedBy: "class=\"tick-fail\"").count == crossesBefore + 1)
        #expect(try r.rendered(.json).contains("host18"), "the JSON keeps every sample")
    }

    @Test func htmlIsSelfContainedWithALanePerStep() throws {
        for name in Self.runs {
            let r = try report(name)
            let html = try r.rendered(.html)
            #expect(html.contains("Content-Security-Policy") && html.contains("default-src 'none'"))
            for external in ["src=", "href=", "@import", "<script", "<link", "url(http", "url(//"] { #expect(!html.contains(external), "\(name): \(external)") }
            // The only URLs are the SVG namespace.
            let urls = html.components(separatedBy: "http://").count + html.components(separatedBy: "https://").count - 2
            #expect(urls == html.components(separatedBy: "http://www.w3.org/2000/svg").count - 1)
            #expect(html.components(separatedBy: "<g class=\"lane\"").count - 1 == r.timeline.count, "\(name)")
            #expect(html.contains("<title id=\"tl-title\">") && html.contains("aria-labelledby=\"tl-title tl-desc\""))
        }
    }
}

/// A JUnit document as FoundationXML's parser (libxml2) reads it: suites with their counts, cases with what they carry.
struct JUnitDocument {
    struct Suite { var name: String; var tests: Int; var failures: Int; var errors: Int; var skipped: Int }
    struct Case { var suite: String; var name: String; var failure: String?; var error: String?; var skipped = false }

    var rootName = ""
    var total = Suite(name: "", tests: 0, failures: 0, errors: 0, skipped: 0)
    var suites: [Suite] = []
    var cases: [Case] = []

    init(_ xml: String) throws {
        let delegate = Delegate()
        let parser = XMLParser(data: Data(xml.utf8))
        parser.delegate = delegate
        guard parser.parse() else { throw Journal.Failure(message: "not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "")") }
        self = delegate.doc
    }

    final class Delegate: NSObject, XMLParserDelegate {
        var doc = JUnitDocument(empty: ())
        var text = ""
        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes a: [String: String] = [:]) {
            text = ""
            func n(_ k: String) -> Int { Int(a[k] ?? "") ?? -1 }
            switch name {
            case "testsuites":
                doc.rootName = name
                doc.total = Suite(name: a["name"] ?? "", tests: n("tests"), failures: n("failures"), errors: n("errors"), skipped: n("skipped"))
            case "testsuite": doc.suites.append(Suite(name: a["name"] ?? "", tests: n("tests"), failures: n("failures"), errors: n("errors"), skipped: n("skipped")))
            case "testcase": doc.cases.append(Case(suite: doc.suites.last?.name ?? "", name: a["name"] ?? ""))
            case "failure": doc.cases[doc.cases.count - 1].failure = a["message"] ?? ""
            case "error": doc.cases[doc.cases.count - 1].error = a["message"] ?? ""
            case "skipped": doc.cases[doc.cases.count - 1].skipped = true
            default: break
            }
        }
    }

    init(empty: Void) {}
}
