import Foundation
import Testing
@testable import FiredrillCore

/// Guards through the binary on a lab: the patient portal (the lab's `/portal/health`, up while
/// an app host runs nginx) guards the EHR failover. A step that breaks it stops the failover at
/// that step; a healthy portal lets the drill pass; a portal already down stops it at preflight.
@Suite struct GuardCLITests {
    static let guards = "guards: { checks: [portal], every: 200ms, hold: 1s }\n\nsteps:"
    /// A mistaken step: it takes the portal's web servers down, then keeps running.
    static let breaksThePortal = """
      - name: Drain the app tier by mistake
        on: app
        run: systemctl stop nginx && sleep 30
        timeout: 60s
      - name: Promote standby
    """

    @Test func aGuardOnThePortalStopsTheFailoverWhenAStepBreaksItAndOnlyThen() throws {
        let lab = try TestLab.start()
        defer { lab.stop() }
        let scenario = DrillScenarioTests()

        // The portal stays up: the guard watches and the drill passes.
        let healthy = try scenario.drill(lab.ehrPlaybook([("\nsteps:", "\n" + Self.guards)]), lab)
        #expect(healthy.result.status == 0, "\(healthy.result.stdout)\(healthy.result.stderr)")
        #expect(healthy.events(.guardTripped).isEmpty)
        let watched = healthy.events(.checkResult).filter { $0.phase == .guards }
        #expect(watched.count >= 2 && watched.allSatisfy { $0.outcome == .passed }, "the preflight sample and the watch's first")

        // A step takes the portal down: the guard trips within its hold, the step is stopped on
        // its hosts, nothing after it is sent, restore runs, the drill fails (exit 1).
        let broken = try scenario.drill(lab.ehrPlaybook([("\nsteps:", "\n" + Self.guards), ("  - name: Promote standby", Self.breaksThePortal)]), lab)
        #expect(broken.result.status == 1, "\(broken.result.stdout)\(broken.result.stderr)")
        let trip = try #require(broken.events(.guardTripped).first)
        #expect(trip.check == "portal" && trip.outcome == .failed && trip.phase == .failover)
        #expect((trip.seconds ?? 0) >= 1 && (trip.attempt ?? 0) >= 2, "failing in every sample for the 1 s hold")
        #expect(broken.step("failover.1")?.result == "passed")
        #expect(broken.step("failover.2")?.result == "interrupted")
        #expect(!broken.events(.commandStarted).contains { $0.step == "failover.3" }, "the promotion is never sent")
        #expect(broken.events(.restoreStarted).first?.result == "guard_tripped")
        #expect(!broken.events(.restoreFinished).isEmpty)
        #expect(broken.ended?.result == "failed")
        #expect(broken.result.stdout.contains("guard portal failed"), "\(broken.result.stdout)")
        // The stopped step's `sleep 30` does not outlive it.
        let ps = try ChildProcess.capture(["/bin/ps", "-eo", "args"])
        #expect(!ps.output.contains("systemctl stop nginx && sleep 30"))
        let runID = try #require(broken.runID)
        let report = try Firedrill.run(["report", runID, "--runs-dir", broken.runsDir, "--format", "text"])
        #expect(report.status == 0 && report.stdout.contains("guard portal"), "\(report.stdout)")

        // The portal is down before the drill (nginx still stopped): nothing is touched.
        let before = try scenario.drill(lab.ehrPlaybook([("\nsteps:", "\n" + Self.guards)]), lab)
        #expect(before.result.status == 3, "\(before.result.stdout)\(before.result.stderr)")
        #expect(before.events(.commandStarted).isEmpty && before.events(.restoreStarted).isEmpty)
        #expect(before.events(.preconditionsFailed).first?.detail?.contains("guard portal fails before the drill") == true)
        // The preview says so too, read-only.
        let preview = try Firedrill.run(["plan", lab.ehrPlaybook([("\nsteps:", "\n" + Self.guards)]), "-i", lab.inventory, "--preflight"])
        #expect(preview.status == 3 && preview.stdout.contains("  guards\n    ✗ portal") && preview.stdout.contains("0/1 guards hold"), "\(preview.stdout)")
    }
}
