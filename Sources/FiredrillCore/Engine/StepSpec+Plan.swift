extension StepSpec {
    /// What a planned step will do, as `step_started` records it.
    public init(_ step: PlannedStep) {
        self.init(kind: step.kind == .manual ? .manual : .command, pattern: step.pattern, hosts: step.hosts, batches: step.batches,
                  timeoutSeconds: DurationText.seconds(step.timeout.duration), maxFailPercentage: step.maxFailPercentage,
                  disruptive: step.disruptive, instruction: step.instruction,
                  verify: step.verify.map { v in
                      Verify(withinSeconds: DurationText.seconds(v.within.duration), holdSeconds: DurationText.seconds(v.hold.duration),
                             checks: v.up.map { Check(name: $0.name, type: $0.type, host: $0.host, from: $0.from, expect: .up) }
                                 + v.down.map { Check(name: $0.name, type: $0.type, host: $0.host, from: $0.from, expect: .down) })
                  })
    }
}
