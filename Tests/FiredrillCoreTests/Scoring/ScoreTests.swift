import Testing
@testable import FiredrillCore

/// `score/1`, component by component, at its boundaries, with its caps, from journals built
/// event by event (the score reads nothing else).
@Suite struct ScoreTests {
    /// A journal of a drill: two failover steps with verifies, a data check, one restore step.
    struct Drill {
        var rtoObjective: Double? = 300
        var rpoObjective: Double? = 30
        var dataCheck = true
        var limit: String?
        var rto: Double? = 60
        var rpo: Double? = 5
        var markerFound = true
        var step1 = StepResult.passed
        var verify2Holds = true
        var restore = RestoreStatus.completed
        var finalHolds = true
        var manualBy: String?
        var interrupted = false
        var resumed = false
        var preconditions = false

        var events: [JournalEvent] {
            var out: [JournalEvent] = []
            func add(_ p: JournalEvent.Payload) { var e = JournalEvent(p); e.run = "r1"; out.append(e) }
            let facts = RunFacts(service: "ehr-db", criticality: "critical", owner: nil, scenario: nil, exercise: nil,
                                 rtoObjectiveSeconds: rtoObjective, rpoObjectiveSeconds: rpoObjective, playbook: "/p.yml", playbookSHA256: "x",
                                 inventory: [], inventorySHA256: "y", limit: limit, extraVarNames: [], operator: "o", controller: "c", version: "v")
            let plan: JSONValue = .object(["data_check": dataCheck ? .object([:]) : .null,
                                           "steps": .array([.object(["id": .string("failover.1"), "verify": .object([:])]),
                                                            .object(["id": .string("failover.2"), "verify": .object([:])])])])
            add(.runStarted(.init(name: "EHR", facts: facts, plan: plan)))
            if resumed { add(.resumed(.init(detail: nil, lastEvent: nil))) }
            if preconditions {
                add(.preconditionsFailed(.init(detail: "steady state ehr_api: HTTP 503")))
                add(.runEnded(.init(result: .preconditions)))
                return out
            }
            func step(_ id: String, _ phase: Phase, _ result: StepResult, verifyHolds: Bool?) {
                add(.stepStarted(.init(phase: phase, step: id, name: id)))
                add(.commandStarted(.init(phase: phase, step: id, host: "db1", command: "x", processTag: "t")))
                add(.commandFinished(.init(phase: phase, step: id, host: "db1", passed: result != .failed, exit: result == .failed ? 3 : 0,
                                           stderr: result == .failed ? "cannot rejoin" : nil)))
                if let holds = verifyHolds, result != .failed {
                    add(.checkResult(.init(phase: phase, step: id, check: "ehr_api", outcome: holds ? .passed : .failed, expect: .up, met: holds,
                                           detail: holds ? "HTTP 200" : "HTTP 503")))
                    add(.verifyFinished(.init(phase: phase, step: id, passed: holds, attempt: 3)))
                }
                let final: StepResult = result == .failed || verifyHolds == false ? .failed : result
                add(.stepFinished(.init(phase: phase, step: id, result: final)))
            }
            if dataCheck { add(.markerWritten(.init(host: "db1", passed: true, detail: nil))) }
            step("failover.1", .failover, step1, verifyHolds: true)
            if step1 == .passed {
                step("failover.2", .failover, .passed, verifyHolds: verify2Holds)
                if let manualBy {
                    add(.stepStarted(.init(phase: .failover, step: "failover.3", name: "Pharmacy")))
                    add(.manualResult(.init(phase: .failover, step: "failover.3", answeredBy: manualBy, outcome: .confirmed, detail: nil)))
                    add(.stepFinished(.init(phase: .failover, step: "failover.3", result: .passed)))
                }
                if verify2Holds, let rto { add(.rto(.init(step: "failover.2", seconds: rto))) }
                if dataCheck { add(.rpo(.init(seconds: markerFound ? rpo : nil, passed: markerFound))) }
            }
            if interrupted { add(.interrupted(.init(response: .stopping, detail: nil))) }
            add(.restoreStarted(.init(reason: .completed, detail: nil)))
            step("restore.1", .restore, restore == .completed ? .passed : .failed, verifyHolds: nil)
            add(.restoreFinished(.init(status: restore, detail: nil)))
            add(.checkResult(.init(phase: .final, check: "ehr_api", outcome: finalHolds ? .passed : .failed, expect: .up, met: finalHolds, detail: "HTTP 503")))
            add(.runEnded(.init(result: interrupted ? .interrupted : .passed, touched: true)))
            return out
        }

        var score: Score { Score(DrillRecord.fold(events)) }
    }

    func component(_ s: Score, _ id: Score.ComponentID) -> Score.Component { s.components.first { $0.id == id }! }

    func balanced(_ s: Score) -> Bool { abs(s.points + s.deductions.reduce(0) { $0 + $1.points } - 100) < 0.001 }

    @Test func aHealthyDrillScoresFullMarks() {
        let s = Drill().score
        #expect(s.points == 100 && s.grade == .A && s.deductions.isEmpty && s.rules == "score/1")
        #expect(s.components.map(\.earned) == [25, 25, 20, 10, 20])
    }

    @Test(arguments: [
        (300.0, 20.0),    // exactly at the objective: full
        (450.0, 10.0),    // halfway to twice it
        (600.0, 0.0),     // exactly twice: nothing
        (900.0, 0.0),     // beyond
    ])
    func rtoIsLinearFromTheObjectiveToTwiceIt(_ rto: Double, _ earned: Double) {
        var d = Drill()
        d.rto = rto
        let s = d.score
        #expect(abs(component(s, .rto).earned - earned) < 0.05)
        #expect(balanced(s))
        if earned < 20 {
            let ded = s.deductions.first { $0.component == "rto" }
            #expect(ded?.reason.contains("> objective 5m0s") == true || ded?.reason.contains("> objective 5m") == true, "\(ded?.reason ?? "")")
            #expect(ded?.step == "failover.2")
        }
    }

    @Test func rtoNeverMeasuredEarnsNothingAndSaysSo() {
        var d = Drill()
        d.rto = nil
        let s = d.score
        #expect(component(s, .rto).earned == 0)
        #expect(s.deductions.contains { $0.component == "rto" && $0.reason.contains("not measured") && $0.points == 20 })
    }

    @Test func rpoIsZeroWhenTheMarkerWasLost() {
        var d = Drill()
        d.markerFound = false
        let s = d.score
        #expect(component(s, .rpo).earned == 0 && s.points == 90 && s.grade == .A)
        #expect(s.deductions.contains { $0.component == "rpo" && $0.reason.contains("lost") })
    }

    @Test func withoutAnRPOObjectiveOrDataCheckTheRestIsScaledTo100() {
        for variant in [{ (d: inout Drill) in d.rpoObjective = nil }, { (d: inout Drill) in d.dataCheck = false }] {
            var d = Drill()
            variant(&d)
            let s = d.score
            #expect(!component(s, .rpo).applicable && component(s, .rpo).note != nil)
            #expect(s.points == 100 && abs(component(s, .failover).possible - 27.8) < 0.05, "25 of 90, scaled")
            d.rto = 450
            let half = d.score
            #expect(abs(half.points - (100 - 10 * 100 / 90)) < 0.06 && balanced(half))
        }
    }

    @Test func aFailedFailoverStepLosesFailoverAndTheVerifiesItNeverReached() {
        var d = Drill()
        d.step1 = .failed
        let s = d.score
        #expect(component(s, .failover).earned == 0)
        let f = s.deductions.first { $0.component == "failover" }
        #expect(f?.step == "failover.1" && f?.host == "db1" && f?.evidence?.contains("exit 3: cannot rejoin") == true)
        #expect(s.deductions.contains { $0.component == "redundancy" && $0.step == "failover.2" && $0.reason.contains("never ran") })
        #expect(component(s, .rto).earned == 0 && component(s, .restore).earned == 20)
        #expect(s.points > 0, "a drill that found a failure scores above one never run")
        #expect(balanced(s))
    }

    @Test func aVerifyThatDidNotHoldLosesItsShareOfRedundancy() {
        var d = Drill()
        d.verify2Holds = false
        let s = d.score
        #expect(component(s, .redundancy).earned == 12.5)
        #expect(s.deductions.contains { $0.component == "redundancy" && $0.check == "ehr_api" && $0.evidence == "HTTP 503" })
    }

    @Test func restoreThatFailsOrDoesNotBringTheSteadyStateBackEarnsNothing() {
        var failed = Drill()
        failed.restore = .failed
        let f = failed.score
        #expect(component(f, .restore).earned == 0)
        #expect(f.deductions.contains { $0.component == "restore" && $0.reason.contains("restore.1 failed on db1") && $0.evidence?.contains("exit 3: cannot rejoin") == true })
        var notBack = Drill()
        notBack.finalHolds = false
        #expect(notBack.score.deductions.contains { $0.component == "restore" && $0.reason.contains("steady state is not back: ehr_api") })
    }

    @Test func capsAreNamedDeductions() {
        var partial = Drill()
        partial.limit = "db1"
        #expect(partial.score.points == 89 && partial.score.deductions.contains { $0.component == "cap" && $0.reason.contains("--limit db1") })
        var flagged = Drill()
        flagged.manualBy = "--manual=pass"
        #expect(flagged.score.points == 89 && flagged.score.grade == .B)
        var asked = Drill()
        asked.manualBy = "operator"
        #expect(asked.score.points == 100, "a person confirming is no reason to cap")
        var interrupted = Drill()
        interrupted.interrupted = true
        #expect(interrupted.score.points == 74 && interrupted.score.grade == .C)
        var resumed = Drill()
        resumed.resumed = true
        resumed.limit = "db1"
        let r = resumed.score
        let caps = r.deductions.filter { $0.component == "cap" }
        #expect(r.points == 74 && caps.count == 2, "every cap that applies is named")
        #expect(caps.map(\.points) == [11, 15] && caps[0].reason.contains("--limit") && caps[1].reason.contains("resumed"))
        // A cap only takes what is above it.
        var low = Drill()
        low.interrupted = true
        low.step1 = .failed
        #expect(low.score.deductions.allSatisfy { $0.component != "cap" })
    }

    @Test func aDrillThatNeverStartedScoresZero() {
        var d = Drill()
        d.preconditions = true
        let s = d.score
        #expect(s.points == 0 && s.grade == .F && balanced(s))
        #expect(s.deductions.contains { $0.reason.contains("did not start") })
    }

    @Test(arguments: [50.0, 74.0, 75.0, 89.9, 90.0, 59.9, 60.0, 39.9, 40.0])
    func gradesAtTheirBoundaries(_ points: Double) {
        let expected: Score.Grade = points >= 90 ? .A : points >= 75 ? .B : points >= 60 ? .C : points >= 40 ? .D : .F
        #expect(Score.Grade(points: points) == expected)
    }

    /// Whatever the drill did, earned + deductions = 100 and the score stays within 0…100.
    @Test func pointsAndDeductionsAlwaysAddUpTo100() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<400 {
            var d = Drill()
            d.rtoObjective = [nil, 300, 60].randomElement(using: &rng)!
            d.rpoObjective = [nil, 30].randomElement(using: &rng)!
            d.dataCheck = Bool.random(using: &rng)
            d.limit = Bool.random(using: &rng) ? "db1" : nil
            d.rto = [nil, 10, 299, 300, 301, 450, 600, 5000].randomElement(using: &rng)!
            d.rpo = [0, 5, 30, 45, 61].randomElement(using: &rng)!
            d.markerFound = Bool.random(using: &rng)
            d.step1 = [.passed, .failed, .skipped, .interrupted].randomElement(using: &rng)!
            d.verify2Holds = Bool.random(using: &rng)
            d.restore = [.completed, .failed, .abandoned].randomElement(using: &rng)!
            d.finalHolds = Bool.random(using: &rng)
            d.manualBy = [nil, "operator", "--manual=pass"].randomElement(using: &rng)!
            d.interrupted = Bool.random(using: &rng)
            d.resumed = Bool.random(using: &rng)
            d.preconditions = Int.random(in: 0..<10, using: &rng) == 0
            let s = d.score
            #expect(balanced(s), "\(d)")
            #expect((0...100).contains(s.points) && s.deductions.allSatisfy { $0.points >= 0 })
            #expect(s.grade == Score.Grade(points: s.points))
        }
    }
}
