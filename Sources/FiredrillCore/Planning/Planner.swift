import Foundation

/// Builds a `Plan` from a playbook and an inventory. Pure: no files, no network, no clock.
/// Every pattern and template problem it meets becomes a diagnostic, so `validate` runs it too.
public struct Planner {
    public var playbook: Playbook
    public var inventory: Inventory?
    public var extraVars: [String: VarValue]
    public var limit: String?
    /// The value of `{{ run_id }}` (a placeholder when previewing).
    public var runID: String

    public static let previewRunID = "RUN-ID"

    public init(playbook: Playbook, inventory: Inventory?, extraVars: [String: VarValue] = [:], limit: String? = nil, runID: String = Planner.previewRunID) {
        self.playbook = playbook
        self.inventory = inventory
        self.extraVars = extraVars
        self.limit = limit
        self.runID = runID
    }

    private var playbookVars: [String: VarValue] {
        var v: [String: VarValue] = [:]
        for variable in playbook.vars { v[variable.name] = variable.value }
        return v
    }

    private var secretNames: Set<String> { Set(playbook.secrets.map(\.name)) }

    /// The plan, and every problem found building it. The plan is nil only when nothing sensible can be shown.
    public func plan() -> (Plan?, [Diagnostic]) {
        var state = State()
        // A limit that means nothing would make every step's selection meaningless: say only that.
        if let limit, let inventory, let problem = InventoryPattern(inventory).limitProblem(limit) {
            return (nil, [problem])
        }
        let steady = playbook.steadyState.flatMap { expand(checkNamed: $0, stepHosts: nil, &state) }
        let guards = playbook.guards.map { g in
            PlannedGuards(checks: g.checks.flatMap { expand(checkNamed: $0, stepHosts: nil, &state) },
                          every: Seconds(g.every), hold: Seconds(g.hold), onUnknown: g.onUnknown)
        }
        var data: PlannedDataCheck?
        if let dc = playbook.dataCheck {
            data = PlannedDataCheck(write: commands(dc.write.on, dc.write.run, step: "data_check", become: BecomeSetting(), &state),
                                    read: commands(dc.read.on, dc.read.run, step: "data_check", become: BecomeSetting(), &state),
                                    timeout: Seconds(dc.timeout))
            // Outside --limit the marker can be neither written nor read: RPO is not measured (rather
            // than measured against nothing, which would read as "found" or as "data lost").
            if let limit, let d = data, d.write.isEmpty || d.read.isEmpty {
                state.diagnostics.append(.warning("the data check's hosts are outside --limit \(limit): RPO will not be measured",
                                                  at: (d.write.isEmpty ? dc.write.on : dc.read.on).location,
                                                  length: (d.write.isEmpty ? dc.write.on : dc.read.on).width))
                data = nil
            }
        }
        let steps = playbook.steps.enumerated().map { planStep($1, number: $0 + 1, phase: .failover, idPrefix: "failover", &state) }
        let restore = playbook.restore.enumerated().map { planStep($1, number: $0 + 1, phase: .restore, idPrefix: "restore", &state) }
        let commandSteps = steps.filter { $0.kind == .command }
        if let limit, !commandSteps.isEmpty, commandSteps.allSatisfy(\.hosts.isEmpty), !state.diagnostics.hasErrors {
            state.diagnostics.append(.error("--limit '\(limit)' leaves no host for any failover step: the drill would change nothing",
                                            hint: "limit to hosts the steps run on, or leave --limit out"))
        }

        var hostNames: [String] = []
        var seen = Set<String>()
        func note(_ h: String?) { if let h, seen.insert(h).inserted { hostNames.append(h) } }
        func noteStep(_ s: PlannedStep) {
            s.hosts.forEach(note)
            s.verify.map { ($0.up + $0.down).forEach { note($0.from) } }
            s.onFailure.forEach(noteStep)
        }
        steady.forEach { note($0.from) }
        guards?.checks.forEach { note($0.from) }
        data.map { ($0.write + $0.read).forEach { note($0.host) } }
        steps.forEach(noteStep)
        restore.forEach(noteStep)
        let connections = hostNames.map { inventory?.connection(of: $0) ?? HostConnection(name: $0, address: $0) }
        // How a host is reached that Firedrill cannot take, or options it reads and does not use:
        // said before anything connects (the connection refuses a proxy; this says it early).
        var said = Set<String>()
        for c in connections {
            if let problem = c.routeProblem, said.insert("route \(c.name)").inserted {
                state.diagnostics.append(.error("\(c.name) cannot be reached as the SSH configuration or ansible_ssh_common_args says: \(problem)",
                                                hint: "fix ProxyJump ([user@]host[:port][,…]), ProxyCommand or ansible_ssh_common_args for the host; it is never reached directly instead"))
            }
            for p in inventory?.becomeProblems(of: c.name) ?? [] where said.insert(p).inserted {
                state.diagnostics.append(.error(p, hint: p.contains("password") || p.contains("pass ") || p.contains("_pass")
                                                ? "give the password with -K/--become-password-file (sudo) or -k/--connection-password-file (login) instead, or write it in a vars file only root can read"
                                                : "ansible_become_method sudo, a user name for ansible_become_user, true/false for ansible_become"))
            }
            for n in inventory?.sshNotes(of: c.name) ?? [] where said.insert(n).inserted {
                state.diagnostics.append(.warning(n, hint: "Firedrill honours HostName, User, Port, IdentityFile, IdentitiesOnly, UserKnownHostsFile, StrictHostKeyChecking, ConnectTimeout, ServerAliveInterval, ProxyJump and ProxyCommand"))
            }
        }

        func allSteps(_ s: [PlannedStep]) -> [PlannedStep] { s.flatMap { [$0] + allSteps($0.onFailure) } }
        let everyStep = allSteps(steps) + allSteps(restore)
        let commandCount = everyStep.reduce(0) { $0 + $1.commands.count } + (data.map { $0.write.count + $0.read.count } ?? 0)
        let checkCount = everyStep.reduce(steady.count * 2) { $0 + ($1.verify.map { $0.up.count + $0.down.count } ?? 0) }
        let steadyWorst = steady.map(\.timeout.duration).max() ?? .zero
        var worst = steadyWorst * 2
        worst += (steps + restore).reduce(Duration.zero) { $0 + $1.worstCase.duration }
        if let data { worst += data.timeout.duration * 2 }

        let pb = playbook
        let plan = Plan(
            runID: runID,
            playbook: .init(name: pb.name.value, file: pb.file, service: pb.service, criticality: pb.criticality, owner: pb.owner,
                            scenario: pb.scenario, exercise: pb.exercise,
                            schedule: pb.schedule.map { .init(every: $0.every, window: $0.window?.text, timezone: $0.timezone,
                                                              blackout: $0.blackouts.isEmpty ? nil : $0.blackouts.map(\.description),
                                                              start: $0.start?.description, grace: $0.grace.map(Seconds.init)) },
                            approval: pb.approval.flatMap { a in a.required ? .init(approvers: a.approvers, allowedSigners: a.allowedSigners ?? "(from the configuration)") : nil }),
            inventory: inventory?.sources ?? [],
            limit: limit,
            objectives: .init(rto: pb.objectives.rto.map(Seconds.init), rpo: pb.objectives.rpo.map(Seconds.init)),
            secrets: pb.secrets.map { .init(name: $0.name, source: $0.source.description) },
            hosts: connections,
            steadyState: steady,
            dataCheck: data,
            steps: steps,
            restore: restore,
            summary: .init(hosts: connections.count, steps: steps.count, restoreSteps: restore.count, commands: commandCount,
                           checks: checkCount, manualSteps: everyStep.filter { $0.kind == .manual }.count,
                           estimatedWorstCase: Seconds(worst)))
        var planned = plan
        planned.guards = guards
        if !pb.notify.isEmpty {
            planned.playbook.notify = pb.notify.map { t in
                let on = NotifyEvent.allCases.filter { t.hears($0) }.map(\.rawValue).joined(separator: ", ")
                return t.label + (t.format == .slack ? " (slack)" : "") + " on " + on
            }
        }
        for c in connections {
            planned.hostGroups[c.name] = (inventory?.hosts[c.name]?.groups ?? []).filter { $0 != "all" && $0 != "ungrouped" }
        }
        return (planned, state.diagnostics.uniqued())
    }

    struct State {
        var diagnostics: [Diagnostic] = []
        /// Rendering contexts per host ("" for none), built once: merging variables is the costly part.
        var contexts: [String: TemplateContext] = [:]
        var selections: [String: InventoryPattern.Selection] = [:]
    }

    // MARK: - Hosts

    /// Hosts a pattern selects (with `--limit`); a diagnostic when it selects none.
    func hosts(_ pattern: Located<String>, _ state: inout State, purpose: String) -> [String] {
        guard let inventory else { return [] }
        do {
            let selection: InventoryPattern.Selection
            if let cached = state.selections[pattern.value] {
                selection = cached
            } else {
                selection = try InventoryPattern(inventory).select(pattern.value, limit: limit)
                state.selections[pattern.value] = selection
            }
            if selection.hosts.isEmpty {
                let withoutLimit = (try? InventoryPattern(inventory).select(pattern.value).hosts) ?? []
                if limit != nil, !withoutLimit.isEmpty {
                    state.diagnostics.append(.warning("'\(pattern.value)' selects no host within --limit \(limit!) (\(purpose))",
                                                      at: pattern.location, length: pattern.width))
                } else {
                    let word = selection.unmatched.first ?? pattern.value
                    state.diagnostics.append(.error("pattern '\(pattern.value)' selects no host (\(purpose))", at: pattern.location, length: pattern.width,
                                                    hint: Suggestions.hint(for: word, among: inventory.userGroups + inventory.hostOrder,
                                                                           noun: "group or host", listLabel: "groups and hosts")))
                }
            }
            return selection.hosts
        } catch {
            state.diagnostics.append(error.diagnostic(at: pattern.location, length: pattern.width))
            return []
        }
    }

    // MARK: - Rendering

    func context(for host: String?) -> TemplateContext {
        TemplateContext.forHost(host, inventory: inventory, playbookVars: playbookVars, extraVars: extraVars,
                                secretNames: secretNames, runID: runID, step: nil)
    }

    func render(_ t: Template, host: String?, step: String?, mode: TemplateContext.Mode, _ state: inout State) -> RenderedText {
        var ctx: TemplateContext
        if let cached = state.contexts[host ?? ""] {
            ctx = cached
        } else {
            ctx = context(for: host)
            state.contexts[host ?? ""] = ctx
        }
        ctx.step = step
        switch ctx.render(t, mode: mode) {
        case let .success(r): return r
        case let .failure(e):
            state.diagnostics += e.diagnostics
            return RenderedText(text: t.source)
        }
    }

    /// The longest command an SSH exec request carries (libssh2 sends it in one packet; past
    /// ~32 KB the request is refused), with Firedrill's wrapper (`RemoteCommand.wrap`) around it.
    static let maxCommandBytes = 30_000

    /// What a command or check on `host` runs as: its own keys over the playbook's over the host's.
    func become(_ own: BecomeSetting, host: String, at location: SourceLocation, _ state: inout State) -> Become? {
        let hostSetting = inventory?.becomeSetting(of: host) ?? BecomeSetting()
        let setting = own.over(playbook.become).over(hostSetting)
        // Flags are checked even where become is off: what is written wrong is said.
        if let flags = setting.flags, let bad = Become.refusedFlag(in: flags, method: setting.method ?? .sudo) {
            let method = (setting.method ?? .sudo).rawValue
            let message = "become_flags has '\(bad.word)', \(bad.reason)"
            if !state.diagnostics.contains(where: { $0.message == message || $0.message.hasPrefix(message + " (") }) {
                let at = setting.flagsAt
                state.diagnostics.append(.error(at == nil ? "\(message) (ansible_become_flags of \(host))" : message, at: at ?? location,
                                                hint: method == "sudo" ? "leave it out: Firedrill answers sudo's prompt and names the user; options such as -H or -E may stay"
                                                    : "leave it out: Firedrill gives su the command and the user; options such as - or -s /bin/sh may stay"))
            }
        }
        guard setting.enabled == true else { return nil }
        return setting.resolved
    }

    func commands(_ on: Located<String>, _ run: Template, step: String, become own: BecomeSetting, at location: SourceLocation? = nil, _ state: inout State) -> [PlannedCommand] {
        var tooLong = false
        return hosts(on, &state, purpose: step).map { host in
            let command = render(run, host: host, step: step, mode: .shell, &state)
            // The command quoted as the wrapper quotes it, and the wrapper's own ~500 bytes.
            let text = command.description
            let bytes = ShellQuoting.quotedLength(text) + 500
            if bytes > Self.maxCommandBytes && !tooLong {
                tooLong = true
                state.diagnostics.append(.error("'run:' renders to a \(bytes / 1000) KB command on \(host): at most \(Self.maxCommandBytes / 1000) KB can be sent over SSH",
                                                at: run.location, length: max(1, min(run.source.count, 80)),
                                                hint: "put a long script in a file on the host and run that file"))
            }
            noNUL(command, run, on: host, &state)
            // `sh -c ''` exits 0: an empty command would "pass" having done nothing.
            if command.secretNames.isEmpty, Self.isEmptyCommand(text) {
                state.diagnostics.append(.error("'run:' renders to an empty command on \(host): the step would do nothing", at: run.location,
                                                length: max(1, run.source.count),
                                                hint: "check the variables it uses; a variable that is empty on this host?"))
            }
            return PlannedCommand(host: host, command: command, become: become(own, host: host, at: location ?? on.location, &state))
        }
    }

    /// Blank, or only `''` between blanks (by bytes: this runs once per host and step).
    static func isEmptyCommand(_ text: String) -> Bool {
        func filled(_ b: UInt8) -> Bool { !(b == 0x20 || (0x09...0x0d).contains(b)) }
        let u = text.utf8
        guard let first = u.firstIndex(where: filled), let last = u.lastIndex(where: filled) else { return true }
        return u.distance(from: first, to: last) == 1 && u[first] == 0x27 && u[last] == 0x27
    }

    /// A command line cannot carry a NUL byte (SSH sends the command as a C string): said where
    /// it is written, once, instead of a command that breaks the connection when sent.
    func noNUL(_ command: RenderedText, _ source: Template, on host: String, _ state: inout State) {
        guard command.description.utf8.contains(0) else { return }
        let message = "the command holds a NUL character (\\0), which a command line cannot carry"
        if !state.diagnostics.contains(where: { $0.message == message && $0.location == source.location }) {
            state.diagnostics.append(.error(message, at: source.location, length: max(1, min(source.source.count, 80)),
                                            hint: "remove the \\0 (in the text or in a variable it uses on \(host))"))
        }
    }

    // MARK: - Steps

    func planStep(_ step: Step, number: Int, phase: PlannedStep.Phase, idPrefix: String, _ state: inout State) -> PlannedStep {
        let id = "\(idPrefix).\(number)"
        var hostList: [String] = []
        var cmds: [PlannedCommand] = []
        var kind = PlannedStep.Kind.command
        var instruction: String?
        var pattern: String?
        switch step.action {
        case let .command(on, run):
            pattern = on.value
            cmds = commands(on, run, step: step.name.value, become: step.become, at: step.location, &state)
            hostList = cmds.map(\.host)
        case let .manual(text):
            kind = .manual
            instruction = text
        }
        var batches: [[String]] = []
        if !hostList.isEmpty {
            batches = step.serial?.batches(of: hostList) ?? [hostList]
        }
        var verify: PlannedVerify?
        if let v = step.verify {
            let up = v.up.flatMap { expand(checkNamed: $0, stepHosts: hostList, &state) }
            let down = v.down.flatMap { expand(checkNamed: $0, stepHosts: hostList, &state) }
            verify = PlannedVerify(within: Seconds(v.within), hold: Seconds(v.hold), up: up, down: down)
        }
        let onFailure = step.onFailure.enumerated().map {
            planStep($1, number: $0 + 1, phase: .onFailure, idPrefix: "\(id).on_failure", &state)
        }
        // Batches run one after another; a manual step's duration is the operator's and is not counted.
        let commandTime = kind == .manual ? .zero : step.timeout * max(1, batches.count)
        // In batches, the verify follows each batch.
        let worst = commandTime + (step.verify?.within ?? .zero) * max(1, batches.count)
        return PlannedStep(id: id, number: number, name: step.name.value, phase: phase, kind: kind, pattern: pattern, instruction: instruction,
                           hosts: hostList, batches: batches, commands: cmds, timeout: Seconds(step.timeout),
                           maxFailPercentage: step.maxFailPercentage, disruptive: step.disruptive, verify: verify,
                           onFailure: onFailure, worstCase: Seconds(worst), onlyTouched: step.onlyTouched)
    }

    // MARK: - Checks

    /// Diagnostics from expanding these checks on their own (used for checks no step references).
    func checkDiagnostics(_ refs: [Located<String>]) -> [Diagnostic] {
        var state = State()
        for ref in refs { _ = expand(checkNamed: ref, stepHosts: nil, &state) }
        return state.diagnostics.uniqued()
    }

    /// The instances of a named check: one per host for `on:`/`targets:` or a per-host check
    /// (uses `{{ host }}`) after a step with hosts; otherwise one.
    func expand(checkNamed ref: Located<String>, stepHosts: [String]?, _ state: inout State) -> [PlannedCheck] {
        guard let check = playbook.check(named: ref.value) else {
            state.diagnostics.append(.error("unknown check '\(ref.value)'", at: ref.location, length: ref.width,
                                            hint: Suggestions.hint(for: ref.value, among: playbook.checks.map(\.name), noun: "check")))
            return []
        }
        if let on = check.on {
            return hosts(on, &state, purpose: "hosts of check '\(check.name)'").map { instance(check, host: $0, from: $0, &state) }
        }
        if let targets = check.targets {
            return hosts(targets, &state, purpose: "targets of check '\(check.name)'").map { instance(check, host: $0, from: nil, &state) }
        }
        if check.isPerHost {
            guard let stepHosts, !stepHosts.isEmpty else {
                let placeholder = check.kind.templates.flatMap(\.placeholders).first { TemplateContext.hostBuiltins.contains($0.name) }
                state.diagnostics.append(.error("check '\(check.name)' uses '{{ \(placeholder?.name ?? "host") }}' but is used where there is no host",
                                                at: ref.location, length: ref.width,
                                                hint: "give check '\(check.name)' 'targets: PATTERN' to say which hosts it probes"))
                return []
            }
            return stepHosts.map { instance(check, host: $0, from: nil, &state) }
        }
        return [instance(check, host: nil, from: nil, &state)]
    }

    func instance(_ check: Check, host: String?, from: String?, _ state: inout State) -> PlannedCheck {
        func plain(_ t: Template) -> RenderedText { render(t, host: host, step: nil, mode: .plain, &state) }
        // Checked once rendered: a variable (-e u=file:///etc/shadow) must not turn a health
        // check into a file read whose content lands in the journal.
        func webURL(_ t: Template, asks: String) -> RenderedText {
            let rendered = plain(t)
            let url = rendered.description.lowercased()
            if !url.hasPrefix("http://") && !url.hasPrefix("https://") && !state.diagnostics.contains(where: { $0.location == t.location }) {
                state.diagnostics.append(.error("check '\(check.name)': its URL renders to '\(String(rendered.description.prefix(80)))', which is not http:// or https://",
                                                at: t.location, hint: "\(asks): give a URL starting with http:// or https://"))
            }
            return rendered
        }
        var target: RenderedText
        var headers: [String: RenderedText] = [:]
        var server: RenderedText?
        var expectValues: [RenderedText] = []
        var query: RenderedText?, token: RenderedText?
        let expect: String
        switch check.kind {
        case let .http(h):
            target = webURL(h.url, asks: "an http check asks a web server")
            for (name, value) in h.headers { headers[name] = plain(value) }
            var parts = ["status " + h.expectStatus.map(String.init).joined(separator: "|")]
            if let b = h.bodyContains { parts.append("body contains \"\(b)\"") }
            if let r = h.bodyRegex { parts.append("body matches /\(r)/") }
            for (k, v) in h.expectHeaders.sorted(by: { $0.key < $1.key }) { parts.append("header \(k): \(v)") }
            if let l = h.maxLatency { parts.append("latency ≤ \(DurationText.format(l))") }
            if !h.verifyTLS { parts.append("TLS not verified") }
            expect = parts.joined(separator: ", ")
        case let .tcp(t):
            target = plain(t)
            expect = "connection accepted"
        case let .dns(d):
            target = plain(d.name)
            server = d.server.map(plain)
            expectValues = d.expect.map(plain)
            let via = server.map { " via \($0)" } ?? ""
            expect = d.expect.isEmpty ? "\(d.recordType) record resolves\(via)"
                : "\(d.recordType) \(expectValues.map(\.description).joined(separator: ", "))\(via)"
        case let .tls(t):
            target = plain(t.target)
            expect = "certificate valid ≥ \(t.minDaysValid) days, name matches"
        case let .command(c):
            target = render(c.run, host: host, step: nil, mode: .shell, &state)
            noNUL(target, c.run, on: host ?? from ?? "the controller", &state)
            var e = "exit \(c.expectExit)"
            if let o = c.outputContains { e += ", output contains \"\(o)\"" }
            expect = e
        case let .fileAge(f):
            target = plain(f.path)
            expect = "modified within \(DurationText.format(f.maxAge))"
        case let .prometheus(p):
            target = webURL(p.url, asks: "a prometheus check asks the Prometheus server's HTTP API")
            // The query goes in the URL's query string and a token in bearer_token: credentials
            // written into the URL would be printed and journaled with the plan.
            if let u = URLComponents(string: target.description), u.user != nil || u.password != nil || u.query != nil,
               !state.diagnostics.contains(where: { $0.location == p.url.location }) {
                state.diagnostics.append(.error("check '\(check.name)': the Prometheus URL holds \(u.query != nil ? "a query string" : "a user name or password")",
                                                at: p.url.location, hint: "give the server's URL alone (http://prometheus:9090, or with a path prefix); the query goes in query:, a token in bearer_token: from secrets:"))
            }
            query = plain(p.query)
            token = p.bearerToken.map(plain)
            expect = "\(query?.description ?? "") \(p.expect)"
        }
        var planned = PlannedCheck(name: check.name, type: check.kind.typeName, host: host, from: from, target: target, headers: headers,
                                   server: server, expectValues: expectValues, timeout: Seconds(check.timeout), expect: expect, definition: check,
                                   become: from.flatMap { become(check.become, host: $0, at: check.location, &state) })
        planned.query = query
        planned.token = token
        return planned
    }
}

extension Check {
    /// Whether the check's templates refer to a host (`{{ host }}`, `{{ inventory_hostname }}`, `{{ ansible_host }}`).
    public var isPerHost: Bool {
        kind.templates.contains { $0.placeholders.contains { TemplateContext.hostBuiltins.contains($0.name) } }
    }
}

extension Array where Element == Diagnostic {
    /// Without repeats (the same problem found once per host is reported once).
    func uniqued() -> [Diagnostic] {
        var seen = Set<String>()
        return filter { seen.insert("\($0.location?.description ?? "")|\($0.message)").inserted }
    }
}
