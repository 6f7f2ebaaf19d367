extension JournalEvent.Payload {
    /// The payload with `f` applied to every text that may carry what a host or a command said
    /// (details, commands, output, instructions): where secrets are masked before anything
    /// stores or prints the event, whatever its kind.
    public func mapText(_ f: (String) -> String) -> Self {
        func o(_ s: String?) -> String? { s.map(f) }
        switch self {
        case var .runStarted(p): p.notes = p.notes.map(f); return .runStarted(p)
        case var .resumed(p): p.detail = o(p.detail); p.notes = p.notes.map(f); return .resumed(p)
        case var .hostReady(p): p.detail = o(p.detail); return .hostReady(p)
        case var .hostUnreachable(p): p.detail = o(p.detail); return .hostUnreachable(p)
        case var .checkResult(p): p.detail = f(p.detail); return .checkResult(p)
        case var .preconditionsFailed(p): p.detail = o(p.detail); return .preconditionsFailed(p)
        case var .markerWritten(p): p.detail = o(p.detail); return .markerWritten(p)
        case var .markerRead(p): p.detail = o(p.detail); return .markerRead(p)
        case var .stepStarted(p): p.detail = o(p.detail); return .stepStarted(p)
        case var .stepFinished(p): p.detail = o(p.detail); return .stepFinished(p)
        case var .commandStarted(p): p.command = o(p.command); return .commandStarted(p)
        case .commandRunning: return self
        case var .commandFinished(p):
            p.detail = o(p.detail); p.stdout = o(p.stdout); p.stderr = o(p.stderr)
            return .commandFinished(p)
        case var .leftoverStopped(p): p.detail = o(p.detail); return .leftoverStopped(p)
        case var .verifyStarted(p): p.detail = o(p.detail); return .verifyStarted(p)
        case var .verifyFlapped(p): p.detail = o(p.detail); return .verifyFlapped(p)
        case var .verifyGap(p): p.detail = o(p.detail); return .verifyGap(p)
        case var .verifyFinished(p): p.detail = o(p.detail); return .verifyFinished(p)
        case var .manualPrompt(p): p.instruction = o(p.instruction); return .manualPrompt(p)
        case var .manualResult(p): p.detail = o(p.detail); return .manualResult(p)
        case var .rto(m): m.detail = o(m.detail); return .rto(m)
        case var .rpo(m): m.detail = o(m.detail); return .rpo(m)
        case var .interrupted(p): p.detail = o(p.detail); return .interrupted(p)
        case var .restoreStarted(p): p.detail = o(p.detail); return .restoreStarted(p)
        case var .restoreFinished(p): p.detail = o(p.detail); return .restoreFinished(p)
        case var .runEnded(p):
            p.detail = o(p.detail); p.restore = o(p.restore); p.finalState = o(p.finalState)
            return .runEnded(p)
        case var .journalFailed(p): p.detail = o(p.detail); return .journalFailed(p)
        case var .guardTripped(p): p.detail = f(p.detail); return .guardTripped(p)
        case var .notification(p): p.detail = f(p.detail); p.target = f(p.target); return .notification(p)
        }
    }
}
