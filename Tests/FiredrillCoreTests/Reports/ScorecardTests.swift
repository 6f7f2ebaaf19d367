import Foundation
import Testing
@testable import FiredrillCore
import FiredrillBench

/// The scorecard's rules (pure) and the history query that feeds it (a real SQLite file).
@Suite struct ScorecardTests {
    func service(_ name: String, _ criticality: Criticality, playbook: String = "p1", inventory: String = "i1") -> Scorecard.Service {
        Scorecard.Service(service: name, name: name.uppercased(), playbook: "\(name).yml", criticality: criticality, rtoObjectiveSeconds: 300,
                          rpoObjectiveSeconds: nil, playbookSHA256: playbook, inventorySHA256: inventory)
    }

    func last(_ name: String, result: String = "passed", score: Double, playbook: String = "p1", inventory: String = "i1",
              lastPassed: (String, String)? = ("p1", "i1"), rto: Double? = 120) -> LatestRun {
        LatestRun(service: name, id: "run-\(name)", result: result, started: "2026-11-01T02:00:00.000Z", score: score, grade: Score.Grade(points: score).rawValue,
                  rules: Score.rules, playbookSHA256: playbook, inventorySHA256: inventory, journal: "/j", rtoSeconds: rto, rtoObjectiveSeconds: 300,
                  rpoSeconds: nil, rpoObjectiveSeconds: nil, rpoFound: nil, components: [], openActions: 2,
                  lastPassedRun: lastPassed == nil ? nil : "run-\(name)", lastPassedPlaybookSHA256: lastPassed?.0, lastPassedInventorySHA256: lastPassed?.1)
    }

    @Test func aServiceNeverDrilledCountsZeroInTheWeightedFigure() {
        let card = Scorecard(services: [service("ehr", .critical), service("kiosk", .low)], latest: [last("ehr", score: 100)])
        #expect(card.readiness == 80)   // (4 × 100 + 1 × 0) / 5
        let kiosk = card.services.first { $0.service == "kiosk" }
        #expect(kiosk?.status == .neverDrilled && kiosk?.counted == 0 && kiosk?.score == nil)
        #expect(card.services.map(\.service) == ["kiosk", "ehr"], "worst first")
    }

    @Test func weightsFollowCriticality() {
        let card = Scorecard(services: [service("a", .critical), service("b", .high), service("c", .medium), service("d", .low)],
                             latest: [last("a", score: 50), last("b", score: 60), last("c", score: 70), last("d", score: 80)])
        #expect(card.readiness == ScoreCalculator.round((4 * 50 + 3 * 60 + 2 * 70 + 1 * 80) / 10.0))
        #expect(card.services.map(\.weight) == [4, 3, 2, 1])
    }

    @Test func aChangedPlaybookOrInventoryNeedsVerification() {
        let playbook = Scorecard(services: [service("ehr", .critical, playbook: "p2")], latest: [last("ehr", score: 95)])
        #expect(playbook.services[0].status == .needsVerification && playbook.services[0].reason.contains("the playbook changed"))
        let inventory = Scorecard(services: [service("ehr", .critical, inventory: "i2")], latest: [last("ehr", score: 95)])
        #expect(inventory.services[0].status == .needsVerification && inventory.services[0].reason.contains("the inventory changed"))
        #expect(inventory.services[0].counted == 95, "stale evidence still counts its score; the status says it is stale")
        let same = Scorecard(services: [service("ehr", .critical)], latest: [last("ehr", score: 95)])
        #expect(same.services[0].status == .ok)
    }

    @Test func aFailedLastDrillIsFailedEvenAfterEarlierPasses() {
        let card = Scorecard(services: [service("ehr", .critical)], latest: [last("ehr", result: "failed", score: 80)])
        #expect(card.services[0].status == .failed && card.services[0].reason.contains("last passing drill run-ehr"))
        let never = Scorecard(services: [service("ehr", .critical)], latest: [last("ehr", result: "interrupted", score: 40, lastPassed: nil)])
        #expect(never.services[0].status == .failed && never.services[0].reason.contains("never passed"))
        #expect(never.services[0].counted == 40, "a drill that found a failure scores above one never run")
    }

    @Test func rtoAgainstTheObjective() {
        let slow = Scorecard(services: [service("ehr", .critical)], latest: [last("ehr", score: 90, rto: 400)])
        #expect(slow.services[0].rto.status == .exceeded)
        let none = Scorecard(services: [service("ehr", .critical)], latest: [last("ehr", score: 90, rto: nil)])
        #expect(none.services[0].rto.status == .notMeasured)
    }

    /// A history database (a real SQLite file in `dir`) holding these synthetic runs.
    func history(_ dir: String, _ runs: [(String, String, String, RunResult)]) async throws -> History {
        let db = try History(path: dir + "/h.sqlite")
        for (id, service, started, result) in runs {
            _ = try await db.ingest(journal: try await SyntheticJournal.write(runs: dir + "/runs", id: id, service: service, started: started, result: result))
        }
        return db
    }

    @Test func theHistoryGivesEachServiceItsLatestRunWithComponentsAndOpenActions() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-card-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = try await history(dir, [("a1", "ehr", "2026-09-01T02:00:00.000Z", .passed), ("a2", "ehr", "2026-10-01T02:00:00.000Z", .failed),
                                         ("b1", "dns", "2026-10-05T02:00:00.000Z", .passed)])
        _ = try await db.annotate(run: "a2", verdict: .fail, note: "n", actions: [.init(owner: "o", item: "i", due: "2099-01-01"), .init(owner: "o", item: "j", due: "2099-01-02")], by: "x")
        let latest = try await db.latestRuns().sorted { $0.service < $1.service }
        #expect(latest.map(\.id) == ["b1", "a2"])
        #expect(latest[1].lastPassedRun == "a1" && latest[1].openActions == 2 && latest[0].openActions == 0)
        #expect(latest[1].components?.count == 5 && latest[1].components?.map(\.id) == Score.ComponentID.allCases)
    }

    /// A drill that never started (a mistyped port: preconditions) touched nothing: it does not
    /// replace the last drill on the scorecard, it is shown beside it; a service with attempts
    /// only is never drilled, with its attempt said.
    @Test func anAttemptThatNeverStartedDoesNotReplaceTheLastDrill() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fd-card-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = try await history(dir, [("a1", "ehr", "2026-09-01T02:00:00.000Z", .passed), ("a2", "ehr", "2026-09-01T02:10:00.000Z", .preconditions),
                                         ("b1", "dns", "2026-10-05T02:00:00.000Z", .preconditions)])
        let latest = try await db.latestRuns().sorted { $0.service < $1.service }
        #expect(latest.map(\.id) == ["b1", "a1"], "the drill, not the attempt")
        #expect(latest[1].failedAttempt?.id == "a2" && latest[0].result == "preconditions")
        let card = Scorecard(services: [service("ehr", .critical), service("dns", .high)], latest: latest.map { l in
            var l = l
            l.playbookSHA256 = "p1"; l.inventorySHA256 = "i1"; l.lastPassedPlaybookSHA256 = l.lastPassedRun == nil ? nil : "p1"; l.lastPassedInventorySHA256 = l.lastPassedRun == nil ? nil : "i1"
            return l
        })
        let ehr = try #require(card.services.first { $0.service == "ehr" })
        #expect(ehr.status == .ok && ehr.lastRun == "a1" && ehr.reason.contains("last attempt 2026-09-01 02:10 did not start: preconditions not met (a2)"), "\(ehr.reason)")
        let dns = try #require(card.services.first { $0.service == "dns" })
        #expect(dns.status == .neverDrilled && dns.counted == 0 && dns.reason.contains("did not start"), "\(dns.reason)")
    }
}
