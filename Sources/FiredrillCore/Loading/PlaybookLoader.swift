import Foundation

/// Loads a playbook file (and the check files it includes) into a `Playbook`,
/// collecting every schema error with its position.
public struct PlaybookLoader {
    public struct Result: Sendable {
        public var playbook: Playbook?
        public var diagnostics: [Diagnostic]
        /// Source text of every file read, for quoting lines in diagnostics.
        public var sources: [String: String]
    }

    static let topKeys = ["name", "service", "criticality", "owner", "scenario", "exercise", "schedule", "objectives",
                          "inventory", "vars", "secrets", "include", "checks", "steady_state", "data_check", "steps", "restore",
                          "description", "approval", "guards", "notify"] + becomeKeys
    static let stepKeys = ["name", "on", "run", "manual", "timeout", "serial", "max_fail_percentage", "verify", "on_failure", "disruptive", "only_touched"] + becomeKeys
    static let checkCommonKeys = ["timeout", "on", "targets"] + becomeKeys
    static let becomeKeys = ["become", "become_user", "become_method", "become_flags"]

    public init() {}

    public func load(file: String) -> Result {
        var sources: [String: String] = [:]
        let text: String
        switch readText(file, into: &sources) {
        case let .success(t): text = t
        case let .failure(unreadable):
            let why = unreadable.why
            return Result(playbook: nil, diagnostics: [.error("cannot read playbook '\(file)': \(why)",
                                                               hint: "give the path of the playbook's .yml file; run from the folder that holds it or give the full path")],
                          sources: sources)
        }
        return load(text: text, file: file, sources: sources)
    }

    public func load(text: String, file: String, sources initial: [String: String] = [:]) -> Result {
        var sources = initial
        sources[file] = text
        let (rootNode, yamlDiagnostics) = YAMLReader.parse(text, file: file)
        var reader = NodeReader()
        reader.diagnostics = yamlDiagnostics
        guard let root = rootNode else {
            if yamlDiagnostics.isEmpty {
                reader.diagnostics.append(.error("the playbook is empty", at: SourceLocation(file: file, line: 1, column: 1),
                                                 hint: "a playbook needs at least name, service and steps; see docs/playbook.md"))
            }
            return Result(playbook: nil, diagnostics: reader.diagnostics, sources: sources)
        }
        guard let top = reader.mapping(root, "the playbook", allowed: Self.topKeys) else {
            return Result(playbook: nil, diagnostics: reader.diagnostics, sources: sources)
        }
        let startOfFile = SourceLocation(file: file, line: 1, column: 1)

        func required(_ key: String) -> YAMLNode? {
            if let n = top[key] { return n }
            reader.diagnostics.append(.error("the playbook has no '\(key)'", at: startOfFile, hint: "add '\(key):' at the top level; see docs/playbook.md"))
            return nil
        }

        let name = required("name").flatMap { reader.name($0, "name") }
        let service = required("service").flatMap { reader.name($0, "service")?.value }
        let criticality = top["criticality"].map { reader.enumValue($0, "criticality", Criticality.self) } ?? .medium
        let owner = top["owner"].flatMap { reader.name($0, "owner")?.value }
        let scenario = top["scenario"].flatMap { reader.prose($0, "scenario") }
        let exercise = top["exercise"].flatMap { reader.enumValue($0, "exercise", ExerciseType.self) }
        let schedule = top["schedule"].flatMap { readSchedule($0, &reader) }
        let objectives = top["objectives"].map { readObjectives($0, &reader) } ?? Objectives()
        let inventory = top["inventory"].flatMap { reader.located($0, "inventory") }

        var vars: [Variable] = []
        let varEntries = top["vars"].map { reader.namedEntries($0, "vars") } ?? []
        for (n, key, value) in varEntries {
            if !Template.isValidName(n) || n.contains(".") {
                reader.error("'\(n)' is not a valid variable name", at: key, hint: "use letters, digits and '_', starting with a letter")
            }
            if TemplateContext.builtinNames.contains(n) {
                reader.error("'\(n)' is a built-in variable and cannot be set", at: key, hint: "built-ins: \(TemplateContext.builtinNames.sorted().joined(separator: ", "))")
            }
            vars.append(Variable(name: n, value: VarValue(yaml: value), location: key.location))
        }

        var secrets: [SecretDeclaration] = []
        let secretEntries = top["secrets"].map { reader.namedEntries($0, "secrets") } ?? []
        for (n, key, value) in secretEntries {
            guard let text = reader.string(value, "secret '\(n)'") else { continue }
            guard let source = SecretSource(text) else {
                reader.error("secret '\(n)' must come from env:NAME or file:PATH, found '\(text)'", at: value,
                             hint: "secrets are never written in a playbook; e.g. \(n): env:\(n.uppercased())")
                continue
            }
            secrets.append(SecretDeclaration(name: n, source: source, location: key.location))
        }

        var checks: [Check] = []
        var includes: [String] = []
        if let inc = top["include"] {
            for item in reader.nameList(inc, "include") {
                let path = resolvePath(item.value, relativeTo: file)
                includes.append(path)
                checks += loadIncludedChecks(path, from: item, reader: &reader, sources: &sources)
            }
        }
        if let c = top["checks"] {
            checks += readChecks(c, file: file, &reader)
        }
        var seenChecks: [String: SourceLocation] = [:]
        for check in checks {
            if let first = seenChecks[check.name] {
                reader.diagnostics.append(.error("check '\(check.name)' is defined twice (first at \(first))", at: check.location,
                                                 length: check.name.count, hint: "rename one of them"))
            } else {
                seenChecks[check.name] = check.location
            }
        }

        let steadyState = top["steady_state"].map { reader.nameList($0, "steady_state") } ?? []
        let dataCheck = top["data_check"].flatMap { readDataCheck($0, &reader) }

        var steps: [Step] = []
        if let s = required("steps") {
            steps = readSteps(s, "steps", &reader, disruptiveByDefault: true)
        }
        let restore = top["restore"].map { readSteps($0, "restore", &reader, disruptiveByDefault: false) } ?? []

        guard let name, let service else {
            return Result(playbook: nil, diagnostics: reader.diagnostics, sources: sources)
        }
        var playbook = Playbook(
            file: file, name: name, service: service, criticality: criticality ?? .medium, owner: owner, scenario: scenario,
            exercise: exercise, schedule: schedule, objectives: objectives, inventory: inventory, vars: vars, secrets: secrets,
            checks: checks, steadyState: steadyState, dataCheck: dataCheck, steps: steps, restore: restore, includes: includes)
        playbook.become = readBecome(top, &reader)
        playbook.approval = top["approval"].flatMap { readApproval($0, file: file, &reader) }
        playbook.guards = top["guards"].flatMap { readGuards($0, &reader) }
        playbook.notify = top["notify"].map { reader.notifyTargets($0, file: file) } ?? []
        return Result(playbook: playbook, diagnostics: reader.diagnostics, sources: sources)
    }

    // MARK: - Parts

    /// `become`, `become_user`, `become_method`, `become_flags` of a playbook, step or check.
    func readBecome(_ m: [String: YAMLNode], _ reader: inout NodeReader) -> BecomeSetting {
        var b = BecomeSetting()
        if let n = m["become"] { b.enabled = reader.bool(n, "become") }
        if let n = m["become_user"], let u = reader.string(n, "become_user") {
            if Become.isValidUser(u) { b.user = u } else {
                reader.error("become_user '\(u)' is not a user name", at: n, hint: "give the account to run as, e.g. become_user: postgres")
            }
        }
        if let n = m["become_method"], let text = reader.string(n, "become_method") {
            if let method = BecomeMethod(rawValue: text) { b.method = method } else {
                reader.error("become_method '\(text)' is not supported", at: n, hint: "Firedrill becomes another user with sudo or su: become_method: sudo")
            }
        }
        if let n = m["become_flags"], let f = reader.string(n, "become_flags") {
            // Which flags are Firedrill's own depends on the method, which another level may
            // give: the planner checks them once it is known (`flagsAt` says where they were).
            if Become.hasShellCharacters(f) {
                reader.error("become_flags may hold only options, found shell characters in '\(f)'", at: n,
                             hint: "letters, digits and - = _ . / , : @ + only, e.g. become_flags: \"-H -E\" (sudo) or \"-s /bin/sh\" (su)")
            } else {
                b.flags = f
                b.flagsAt = n.location
            }
        }
        return b
    }

    func readSchedule(_ node: YAMLNode, _ reader: inout NodeReader) -> Schedule? {
        guard let m = reader.mapping(node, "schedule", allowed: ["every", "window", "timezone", "blackout", "start", "grace"]) else { return nil }
        guard let everyNode = m["every"] else {
            reader.error("schedule needs 'every'", at: node, hint: "e.g. schedule: { every: quarter, window: \"Sat 02:00-04:00\", timezone: America/Los_Angeles }")
            return nil
        }
        guard let everyText = reader.string(everyNode, "schedule every") else { return nil }
        guard let every = Recurrence(everyText) else {
            reader.error("'\(everyText)' is not a drill interval", at: everyNode,
                         hint: "write month, quarter, half-year, year, week, or N days / N weeks / N months (N from 1 to 3660, e.g. 6 weeks)")
            return nil
        }
        var schedule = Schedule(every: every)
        if let w = m["window"], let text = reader.string(w, "window") {
            switch DrillWindow.parse(text) {
            case let .success(window): schedule.window = window
            case let .failure(p): reader.error(p.message, at: w, hint: "write weekdays and a time range in the schedule's zone, e.g. \"Sat 02:00-04:00\" or \"Sat,Sun 01:00-05:00\"")
            }
        }
        if let t = m["timezone"], let text = reader.string(t, "timezone") {
            let known = TimeZone.knownTimeZoneIdentifiers
            // IANA names only (not abbreviations such as PST, whose meaning depends on the platform).
            if known.contains(text) || text == "UTC" || text == "GMT" { schedule.timezone = text } else {
                let wanted = text.replacingOccurrences(of: " ", with: "_").lowercased()
                let guess = known.first { $0.lowercased() == wanted || $0.lowercased().hasSuffix("/" + wanted) } ?? Suggestions.closest(to: text, in: known)
                reader.error("unknown time zone '\(text)'", at: t,
                             hint: guess.map { "did you mean '\($0)'?" } ?? "use an IANA name such as America/Los_Angeles, Europe/London or UTC")
            }
        }
        if let s = m["start"], let text = reader.string(s, "start") {
            if let d = LocalDate(text) { schedule.start = d } else { reader.error("start '\(text)' is not a date", at: s, hint: "write YYYY-MM-DD, e.g. 2027-01-01") }
        }
        if let g = m["grace"], let d = reader.duration(g, "grace") { schedule.grace = d }
        if let b = m["blackout"] {
            let items = b.items ?? [b]
            for item in items {
                guard let text = reader.string(item, "blackout") else { continue }
                let parts = text.components(separatedBy: "..").map { $0.trimmingCharacters(in: .whitespaces) }
                guard (1...2).contains(parts.count), let from = LocalDate(parts[0]), let to = LocalDate(parts.last ?? "") else {
                    reader.error("blackout '\(text)' is not a date or a date range", at: item, hint: "write YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD (both days included), e.g. \"2026-12-15..2027-01-05\"")
                    continue
                }
                guard from <= to else {
                    reader.error("blackout '\(text)' ends (\(to)) before it starts (\(from))", at: item, hint: "write the earlier date first: \"\(to)..\(from)\"")
                    continue
                }
                schedule.blackouts.append(Blackout(from: from, to: to))
            }
        }
        return schedule
    }

    /// `approval: { required: true, approvers: [alice@example.org], allowed_signers: FILE }`.
    func readApproval(_ node: YAMLNode, file: String, _ reader: inout NodeReader) -> ApprovalSetting? {
        guard let m = reader.mapping(node, "approval", allowed: ["required", "approvers", "allowed_signers"]) else { return nil }
        let required = m["required"].map { reader.bool($0, "approval required") ?? true } ?? true
        let approvers = m["approvers"].map { reader.nameList($0, "approvers").map(\.value) } ?? []
        var signers: String?
        if let n = m["allowed_signers"], let path = reader.nonEmptyString(n, "allowed_signers") {
            let resolved = resolvePath(path, relativeTo: file)
            if FileManager.default.isReadableFile(atPath: resolved) { signers = resolved } else {
                reader.error("allowed_signers '\(path)' does not exist (looked for \(resolved))", at: n,
                             hint: "paths are relative to the playbook's folder; the file holds one line per approver: 'alice@example.org ssh-ed25519 AAAA…' (ssh-keygen(1), ALLOWED SIGNERS)")
            }
        }
        return ApprovalSetting(required: required, approvers: approvers, allowedSigners: signers, location: node.location)
    }

    /// `guards: { checks: [portal], every: 2s, hold: 4s, on_unknown: abort }`.
    func readGuards(_ node: YAMLNode, _ reader: inout NodeReader) -> GuardSetting? {
        guard let m = reader.mapping(node, "guards", allowed: ["checks", "every", "hold", "on_unknown"]) else { return nil }
        guard let checksNode = m["checks"] else {
            reader.error("guards names no checks", at: node,
                         hint: "add 'checks: [NAME, …]': checks of this playbook that fail when production is hurt (e.g. the patient portal)")
            return nil
        }
        let checks = reader.nameList(checksNode, "guards checks")
        if checks.isEmpty {
            reader.error("guards names no checks", at: checksNode, hint: "list at least one check, or remove guards:")
        }
        var listed = Set<String>()
        for c in checks where !listed.insert(c.value).inserted {
            reader.diagnostics.append(.error("guard '\(c.value)' is listed twice", at: c.location, length: c.width, hint: "list each check once"))
        }
        var guards = GuardSetting(checks: checks, location: node.location)
        if let n = m["every"], let every = reader.duration(n, "guards every") {
            if every < .milliseconds(100) || every > .seconds(60) {
                reader.error("guards every must be between 100ms and 1m, found \(DurationText.format(every))", at: n,
                             hint: "how often every guard is sampled, e.g. every: 2s: a guard sampled less often sees little of a drill")
            } else { guards.every = every }
        }
        if let n = m["hold"], let hold = reader.duration(n, "guards hold") {
            if hold > .seconds(3600) {
                reader.error("guards hold must be at most 1h, found \(DurationText.format(hold))", at: n,
                             hint: "how long a guard must fail before it stops the drill, e.g. hold: 4s (0s: at the first failing sample)")
            } else { guards.hold = hold }
        }
        if let n = m["on_unknown"], let v = reader.enumValue(n, "guards on_unknown", GuardSetting.OnUnknown.self) { guards.onUnknown = v }
        return guards
    }

    func readObjectives(_ node: YAMLNode, _ reader: inout NodeReader) -> Objectives {
        guard let m = reader.mapping(node, "objectives", allowed: ["rto", "rpo"]) else { return Objectives() }
        return Objectives(rto: m["rto"].flatMap { reader.duration($0, "rto") }, rpo: m["rpo"].flatMap { reader.duration($0, "rpo") })
    }

    func readDataCheck(_ node: YAMLNode, _ reader: inout NodeReader) -> DataCheck? {
        guard let m = reader.mapping(node, "data_check", allowed: ["write", "read", "timeout"]) else { return nil }
        func command(_ key: String) -> DataCheck.Command? {
            guard let n = m[key] else {
                reader.error("data_check needs '\(key)'", at: node, hint: "data_check: { write: { on: PRIMARY, run: CMD }, read: { on: STANDBY, run: CMD } }")
                return nil
            }
            guard let c = reader.mapping(n, "data_check \(key)", allowed: ["on", "run"]) else { return nil }
            guard let onNode = c["on"], let runNode = c["run"] else {
                reader.error("data_check \(key) needs both 'on' and 'run'", at: n)
                return nil
            }
            guard let on = reader.located(onNode, "on"), let run = reader.template(runNode, "run") else { return nil }
            return DataCheck.Command(on: on, run: run)
        }
        let write = command("write"), read = command("read")
        let timeout = m["timeout"].flatMap { reader.duration($0, "timeout") } ?? .seconds(30)
        guard let write, let read else { return nil }
        return DataCheck(write: write, read: read, timeout: timeout, location: node.location)
    }

    func readChecks(_ node: YAMLNode, file: String, _ reader: inout NodeReader) -> [Check] {
        reader.namedEntries(node, "checks").compactMap { name, key, value in
            readCheck(name: name, key: key, value, file: file, &reader)
        }
    }

    func readCheck(name: String, key: YAMLNode, _ node: YAMLNode, file: String, _ reader: inout NodeReader) -> Check? {
        let specific: [String: [String]] = [
            "http": ["http", "method", "headers", "expect", "insecure", "ca_file"],
            "tcp": ["tcp"],
            "dns": ["dns", "server", "type", "expect"],
            "tls": ["tls", "server_name", "min_days_valid", "ca_file"],
            "command": ["command", "expect"],
            "file_age": ["file_age", "max_age"],
            "prometheus": ["prometheus", "query", "expect", "bearer_token"],
        ]
        guard let pairs = node.pairs else {
            reader.error("check '\(name)' must be a mapping such as { http: URL } or { tcp: HOST:PORT }, found \(node.typeName)", at: node)
            return nil
        }
        let kinds = pairs.compactMap { $0.key.scalar }.filter { Check.kindNames.contains($0) }
        guard kinds.count == 1, let kindName = kinds.first else {
            if kinds.isEmpty {
                let firstKey = pairs.first?.key.scalar ?? ""
                let guess = Suggestions.closest(to: firstKey, in: Check.kindNames).map { "did you mean '\($0)'? " } ?? ""
                reader.error("check '\(name)' has no type", at: key,
                             hint: "\(guess)a check is one of: \(Check.kindNames.joined(separator: ", ")) (e.g. \(name): { tcp: \"db1:5432\" })")
            } else {
                reader.error("check '\(name)' has several types (\(kinds.joined(separator: ", ")))", at: key, hint: "split it into one check per type")
            }
            return nil
        }
        guard let m = reader.mapping(node, "check '\(name)'", allowed: (specific[kindName] ?? []) + Self.checkCommonKeys),
              let mainNode = m[kindName] else { return nil }
        let timeout = m["timeout"].flatMap { reader.duration($0, "timeout") } ?? Check.defaultTimeout
        if timeout == .zero, let tn = m["timeout"] {
            reader.error("check '\(name)' has a timeout of 0s: it could never answer", at: tn, hint: "give it time to answer, e.g. timeout: 5s")
        }
        let on = m["on"].flatMap { reader.located($0, "on") }
        let targets = m["targets"].flatMap { reader.located($0, "targets") }
        if on != nil, targets != nil, let t = m["targets"] {
            reader.error("check '\(name)' has both 'on' and 'targets'", at: t,
                         hint: "'on' runs the check from each host; 'targets' runs it from here once per host — pick one")
        }
        var kind: Check.Kind?
        switch kindName {
        case "http":
            guard let url = reader.template(mainNode, "http url") else { break }
            if !(url.source.hasPrefix("http://") || url.source.hasPrefix("https://") || url.source.hasPrefix("{{")) {
                reader.error("'\(url.source)' is not an http(s) URL", at: mainNode, hint: "write the full URL, e.g. https://ehr.example.org/health")
            }
            var check = HTTPCheck(url: url, method: "GET", headers: [], expectStatus: [200], bodyContains: nil, bodyRegex: nil,
                                  expectHeaders: [:], maxLatency: nil, verifyTLS: true, caFile: nil)
            if let mn = m["method"], let method = reader.string(mn, "method") {
                let methods = ["GET", "HEAD", "POST", "PUT", "OPTIONS"]
                if methods.contains(method.uppercased()) { check.method = method.uppercased() } else {
                    reader.error("unsupported HTTP method '\(method)'", at: mn, hint: "use one of \(methods.joined(separator: ", "))")
                }
            }
            if let hn = m["headers"] {
                for (hname, _, hvalue) in reader.namedEntries(hn, "headers") {
                    if let t = reader.template(hvalue, "header \(hname)") { check.headers.append((hname, t)) }
                }
            }
            if let e = m["expect"], let em = reader.mapping(e, "expect", allowed: ["status", "body_contains", "body_regex", "header", "max_latency"]) {
                if let s = em["status"] {
                    if let items = s.items { check.expectStatus = items.compactMap { reader.int($0, "status", range: 100...599) } }
                    else if let code = reader.int(s, "status", range: 100...599) { check.expectStatus = [code] }
                }
                check.bodyContains = em["body_contains"].flatMap { reader.string($0, "body_contains") }
                if let rn = em["body_regex"], let r = reader.string(rn, "body_regex") {
                    if (try? NSRegularExpression(pattern: r)) == nil {
                        reader.error("body_regex '\(r)' is not a valid regular expression", at: rn)
                    } else { check.bodyRegex = r }
                }
                if let hn = em["header"] {
                    for (hname, _, hvalue) in reader.namedEntries(hn, "header") {
                        if let v = reader.string(hvalue, "header \(hname)") { check.expectHeaders[hname] = v }
                    }
                }
                check.maxLatency = em["max_latency"].flatMap { reader.duration($0, "max_latency") }
            }
            if let i = m["insecure"], let insecure = reader.bool(i, "insecure") { check.verifyTLS = !insecure }
            check.caFile = m["ca_file"].flatMap { reader.string($0, "ca_file") }
            kind = .http(check)
        case "tcp":
            if let t = reader.template(mainNode, "tcp target") {
                if !t.source.contains(":") {
                    reader.error("tcp target '\(t.source)' has no port", at: mainNode, hint: "write HOST:PORT, e.g. \"{{ host }}:5432\"")
                }
                kind = .tcp(target: t)
            }
        case "dns":
            guard let n = reader.template(mainNode, "dns name") else { break }
            var expect: [Template] = []
            if let e = m["expect"] {
                let items = e.items ?? [e]
                expect = items.compactMap { reader.template($0, "expected address") }
            }
            let type = m["type"].flatMap { reader.string($0, "type") }?.uppercased() ?? "A"
            if !["A", "AAAA"].contains(type), let tn = m["type"] {
                reader.error("unsupported DNS record type '\(type)'", at: tn, hint: "use A or AAAA")
            }
            kind = .dns(DNSCheck(name: n, server: m["server"].flatMap { reader.template($0, "server") }, recordType: type, expect: expect))
        case "tls":
            guard let t = reader.template(mainNode, "tls target") else { break }
            let days = m["min_days_valid"].flatMap { reader.int($0, "min_days_valid", range: 0...3650) } ?? 14
            kind = .tls(TLSCheck(target: t, serverName: m["server_name"].flatMap { reader.string($0, "server_name") },
                                 minDaysValid: days, caFile: m["ca_file"].flatMap { reader.string($0, "ca_file") }))
        case "command":
            guard let run = reader.template(mainNode, "command") else { break }
            var check = CommandCheck(run: run, expectExit: 0, outputContains: nil)
            if let e = m["expect"], let em = reader.mapping(e, "expect", allowed: ["exit", "output_contains"]) {
                if let x = em["exit"], let code = reader.int(x, "exit", range: 0...255) { check.expectExit = code }
                check.outputContains = em["output_contains"].flatMap { reader.string($0, "output_contains") }
            }
            kind = .command(check)
        case "file_age":
            guard let path = reader.template(mainNode, "file_age path") else { break }
            guard let ma = m["max_age"] else {
                reader.error("file_age check '\(name)' needs max_age", at: key, hint: "e.g. max_age: 24h — the file must be newer than that")
                break
            }
            if let maxAge = reader.duration(ma, "max_age") { kind = .fileAge(FileAgeCheck(path: path, maxAge: maxAge)) }
        case "prometheus":
            guard let url = reader.template(mainNode, "prometheus url") else { break }
            if !(url.source.hasPrefix("http://") || url.source.hasPrefix("https://") || url.source.hasPrefix("{{")) {
                reader.error("'\(url.source)' is not an http(s) URL", at: mainNode,
                             hint: "write the Prometheus server's URL, e.g. http://prometheus.example.org:9090 (its /api/v1/query is asked)")
            }
            guard let qn = m["query"] else {
                reader.error("prometheus check '\(name)' needs query", at: key, hint: "e.g. query: 'sum(rate(http_requests_total{code=~\"5..\"}[1m])) / sum(rate(http_requests_total[1m]))'")
                break
            }
            guard let query = reader.template(qn, "query") else { break }
            guard let en = m["expect"] else {
                reader.error("prometheus check '\(name)' needs expect", at: key, hint: "the value's comparison, quoted: expect: \"< 0.05\" (also <=, >, >=, ==, !=)")
                break
            }
            guard let et = reader.string(en, "expect") else { break }
            guard let comparison = Comparison(et) else {
                reader.error("'\(et)' is not a comparison", at: en,
                             hint: "write an operator and a number, quoted: expect: \"< 0.05\", \">= 1\", \"== 0\" (a bare '>' starts a YAML folded text)")
                break
            }
            let token = m["bearer_token"].flatMap { reader.template($0, "bearer_token") }
            if let token, token.placeholders.isEmpty, let tn = m["bearer_token"] {
                reader.error("prometheus check '\(name)': the bearer token is written in the playbook", at: tn,
                             hint: "declare it under secrets: (e.g. prom_token: env:PROM_TOKEN) and write bearer_token: \"{{ prom_token }}\"")
            }
            if token != nil, let onNode = m["on"] {
                reader.error("prometheus check '\(name)' has a bearer_token and runs from a host", at: onNode,
                             hint: "run it from the controller (remove on:): on a host the token would be on curl's command line")
            }
            kind = .prometheus(PrometheusCheck(url: url, query: query, expect: comparison, bearerToken: token))
        default:
            break
        }
        if (kindName == "command" || kindName == "file_age"), on == nil, m["on"] == nil {
            reader.error("\(kindName) check '\(name)' needs 'on:' (the hosts to run it on)", at: key,
                         hint: "e.g. on: db_standby; use 'on: localhost' with ansible_connection=local for the controller")
        }
        if kindName == "tls", let onNode = m["on"] {
            reader.error("tls check '\(name)' cannot run from a host: it runs from the controller", at: onNode,
                         hint: "remove on:, or use targets: to check each host's certificate from here")
        }
        guard let kind else { return nil }
        var check = Check(name: name, location: key.location, kind: kind, timeout: timeout, on: on, targets: targets, file: key.location.file)
        check.become = readBecome(m, &reader)
        if !check.become.isEmpty, on == nil, let first = Self.becomeKeys.compactMap({ m[$0] }).first {
            reader.error("check '\(name)' has become but runs from here, not on a host", at: first,
                         hint: "become applies to a check run on a host (on: PATTERN); remove it, or add on:")
        }
        return check
    }

    func readSteps(_ node: YAMLNode, _ section: String, _ reader: inout NodeReader, disruptiveByDefault: Bool) -> [Step] {
        if node.isNull { return [] }
        guard let items = node.items else {
            reader.error("\(section) must be a list of steps (each item starts with '- name:'), found \(node.typeName)", at: node)
            return []
        }
        return items.compactMap { readStep($0, section, &reader, disruptiveByDefault: disruptiveByDefault) }
    }

    func readStep(_ node: YAMLNode, _ section: String, _ reader: inout NodeReader, disruptiveByDefault: Bool) -> Step? {
        guard let m = reader.mapping(node, "a step of \(section)", allowed: Self.stepKeys) else { return nil }
        guard let nameNode = m["name"] else {
            reader.error("a step in \(section) has no name", at: node, hint: "start each step with '- name: What this step does'")
            return nil
        }
        guard let name = reader.name(nameNode, "step name") else { return nil }
        var action: Step.Action?
        switch (m["run"], m["manual"]) {
        case let (run?, nil):
            let runTemplate = reader.template(run, "run")
            if let onNode = m["on"] {
                if let on = reader.located(onNode, "on"), let runTemplate { action = .command(on: on, run: runTemplate) }
            } else {
                reader.error("step '\(name.value)' has 'run' but no 'on'", at: nameNode,
                             hint: "add 'on: PATTERN' naming the inventory hosts or group to run it on")
            }
        case let (nil, manual?):
            if let text = reader.prose(manual, "manual") { action = .manual(instruction: text) }
            if let onNode = m["on"] {
                reader.error("manual step '\(name.value)' cannot have 'on'", at: onNode, hint: "a manual step is done by the operator; remove 'on'")
            }
        case (_?, _?):
            reader.error("step '\(name.value)' has both 'run' and 'manual'", at: nameNode, hint: "split it into two steps")
        case (nil, nil):
            reader.error("step '\(name.value)' has neither 'run' nor 'manual'", at: nameNode,
                         hint: "add 'on: HOSTS' and 'run: COMMAND', or 'manual: INSTRUCTION' for the operator")
        }
        let timeout = m["timeout"].flatMap { reader.duration($0, "timeout") } ?? Step.defaultTimeout
        var serial: Serial?
        if let s = m["serial"] {
            func size(_ node: YAMLNode) -> Serial? {
                guard let text = reader.string(node, "serial") else { return nil }
                if text.hasSuffix("%"), let p = Int(text.dropLast()), (1...100).contains(p) { return .percent(p) }
                if let n = Int(text), n >= 1 { return .count(n) }
                reader.error("serial must be a count (e.g. 2), a percentage (e.g. 25%) or a list of them (e.g. [1, 25%, 100%]), found '\(text)'", at: node)
                return nil
            }
            if case let .sequence(items) = s.kind {
                if items.isEmpty { reader.error("serial is an empty list", at: s, hint: "e.g. serial: [1, 25%, 100%]") }
                let sizes = items.compactMap(size)
                if sizes.count == items.count, !sizes.isEmpty { serial = .list(sizes) }
            } else {
                serial = size(s)
            }
        }
        let maxFail = m["max_fail_percentage"].flatMap { reader.int($0, "max_fail_percentage", range: 0...100) } ?? 0
        var verify: Verify?
        if let v = m["verify"], let vm = reader.mapping(v, "verify", allowed: ["up", "down", "within", "hold"]) {
            let up = vm["up"].map { reader.nameList($0, "up") } ?? []
            let down = vm["down"].map { reader.nameList($0, "down") } ?? []
            let within = vm["within"].flatMap { reader.duration($0, "within") } ?? Verify.defaultWithin
            // A short window gets a shorter default hold (half of it), so it can still pass.
            var hold = min(Verify.defaultHold, within / 2)
            if let h = vm["hold"], let d = reader.duration(h, "hold") {
                hold = d
                if d >= within {
                    reader.error("hold \(DurationText.format(d)) is not shorter than within \(DurationText.format(within)): the verify could never pass", at: h,
                                 hint: "the checks must hold for 'hold' inside the 'within' window: raise within or lower hold")
                }
            }
            if up.isEmpty && down.isEmpty {
                reader.error("verify of step '\(name.value)' has neither 'up' nor 'down'", at: v,
                             hint: "list the checks that must pass (up: [...]) or fail (down: [...]), or remove verify")
            }
            verify = Verify(up: up, down: down, within: within, hold: hold, location: v.location)
        }
        let onFailure = m["on_failure"].map { readSteps($0, "on_failure of '\(name.value)'", &reader, disruptiveByDefault: false) } ?? []
        var disruptive = disruptiveByDefault
        if let d = m["disruptive"], let b = reader.bool(d, "disruptive") { disruptive = b }
        if case .manual = action, m["disruptive"] == nil { disruptive = false }
        guard let action else { return nil }
        var step = Step(name: name, location: node.location, action: action, timeout: timeout, serial: serial,
                        maxFailPercentage: maxFail, verify: verify, onFailure: onFailure, disruptive: disruptive)
        step.become = readBecome(m, &reader)
        if case .manual = action {
            for key in ["serial", "max_fail_percentage"] {
                if let n = m[key] { reader.error("\(key) is for a step with 'on:' hosts, not a manual one", at: n, hint: "remove it: the operator does a manual step once") }
            }
        }
        if let n = m["only_touched"], let b = reader.bool(n, "only_touched") {
            if section != "restore" {
                reader.error("only_touched is for restore steps: it runs a step only on the hosts the failover touched", at: n,
                             hint: "move the step under restore:, or remove only_touched")
            } else if case .manual = action {
                reader.error("only_touched is for a step with 'on:' hosts, not a manual one", at: n)
            }
            step.onlyTouched = b
        }
        if case .manual = action, !step.become.isEmpty, let first = Self.becomeKeys.compactMap({ m[$0] }).first {
            reader.error("manual step '\(name.value)' cannot have become: the operator does it", at: first, hint: "remove the become keys from this step")
        }
        return step
    }

    func loadIncludedChecks(_ path: String, from item: Located<String>, reader: inout NodeReader, sources: inout [String: String]) -> [Check] {
        let text: String
        switch readText(path, into: &sources) {
        case let .success(t): text = t
        case let .failure(unreadable):
            let why = unreadable.why
            reader.diagnostics.append(.error("cannot read included file '\(item.value)': \(why)", at: item.location, length: item.width,
                                             hint: "paths are relative to the playbook's folder (looked for \(path))"))
            return []
        }
        let (root, d) = YAMLReader.parse(text, file: path)
        reader.diagnostics += d
        guard let root else { return [] }
        guard let m = reader.mapping(root, "an included checks file", allowed: ["checks"]), let c = m["checks"] else {
            if root.pairs != nil {
                reader.diagnostics.append(.error("included file has no 'checks:'", at: root.location, hint: "an included file holds a top-level 'checks:' mapping"))
            }
            return []
        }
        return readChecks(c, file: path, &reader)
    }

    func readText(_ path: String, into sources: inout [String: String]) -> Swift.Result<String, TextFile.Unreadable> {
        let r = TextFile.read(path)
        if case let .success(text) = r { sources[path] = text }
        return r
    }
}
