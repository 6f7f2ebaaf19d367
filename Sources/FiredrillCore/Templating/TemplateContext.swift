/// The variables a template is rendered with, and the rules for substituting them.
///
/// Precedence, lowest first: inventory group vars, inventory host vars, playbook `vars`,
/// command-line `-e`, then the built-ins. Secrets are looked up by name (or as
/// `secrets.NAME`) and never rendered as text: they stay `RenderedText.Piece.secret`.
public struct TemplateContext: Sendable {
    public enum Mode: Sendable {
        /// A `run:` command: values are shell-quoted unless `| raw`.
        case shell
        /// A URL, address, name: values are substituted as they are.
        case plain
    }

    public static let builtinNames: Set<String> = ["host", "inventory_hostname", "ansible_host", "run_id", "step"]
    static let hostBuiltins: Set<String> = ["host", "inventory_hostname", "ansible_host"]

    public var values: [String: VarValue]
    public var secretNames: Set<String>
    /// The host the template is rendered for, if any (for the error when a host built-in has none).
    public var host: String?
    /// `{{ step }}`: the name of the step being rendered.
    public var step: String?

    public init(values: [String: VarValue] = [:], secretNames: Set<String> = [], host: String? = nil) {
        self.values = values
        self.secretNames = secretNames
        self.host = host
    }

    /// A context for one host: its inventory variables, then playbook vars, then extra vars, then built-ins.
    public static func forHost(_ name: String?, inventory: Inventory?, playbookVars: [String: VarValue], extraVars: [String: VarValue],
                               secretNames: Set<String>, runID: String, step: String?) -> TemplateContext {
        var values: [String: VarValue] = [:]
        if let inventory {
            // Without a host, the variables of the 'all' group still apply.
            values = name.map(inventory.variables(of:)) ?? inventory.variablesOfAll()
        }
        values.merge(playbookVars) { _, n in n }
        values.merge(extraVars) { _, n in n }
        if let name {
            let conn = inventory?.connection(of: name) ?? HostConnection(name: name, address: name)
            values["host"] = .string(conn.address)
            values["inventory_hostname"] = .string(name)
            values["ansible_host"] = .string(conn.address)
        }
        values["run_id"] = .string(runID)
        var ctx = TemplateContext(values: values, secretNames: secretNames, host: name)
        ctx.step = step
        return ctx
    }

    /// Renders `template`, or returns a diagnostic for each undefined variable or undeclared secret.
    public func render(_ template: Template, mode: Mode) -> Result<RenderedText, DiagnosticsError> {
        var pieces: [RenderedText.Piece] = []
        var problems: [Diagnostic] = []
        for segment in template.segments {
            switch segment {
            case let .text(t):
                pieces.append(.text(t))
            case let .placeholder(p):
                let raw = p.filters.contains(.raw)
                let quote = !raw && (mode == .shell || p.filters.contains(.quote))
                if p.name.hasPrefix("secrets.") {
                    let name = String(p.name.dropFirst("secrets.".count))
                    if secretNames.contains(name) { pieces.append(.secret(name: name, quoted: quote)) }
                    else {
                        problems.append(.error("secret '\(name)' is used but not declared", at: p.location, length: p.width,
                                               hint: "declare it under secrets:, e.g. \(name): env:\(name.uppercased())"))
                    }
                    continue
                }
                if let value = lookup(p.name) {
                    let text = value.text
                    pieces.append(.text(quote ? ShellQuoting.quote(text) : text))
                } else if secretNames.contains(p.name) {
                    pieces.append(.secret(name: p.name, quoted: quote))
                } else {
                    problems.append(undefined(p))
                }
            }
        }
        if !problems.isEmpty { return .failure(DiagnosticsError(problems)) }
        return .success(RenderedText(merge(pieces)))
    }

    private func lookup(_ name: String) -> VarValue? {
        if name == "step", let step { return .string(step) }
        if let v = values[name] { return v }
        let parts = name.split(separator: ".").map(String.init)
        guard parts.count > 1, var current = values[parts[0]] else { return nil }
        for key in parts.dropFirst() {
            guard case let .map(m) = current, let next = m[key] else { return nil }
            current = next
        }
        return current
    }

    private func undefined(_ p: Template.Placeholder) -> Diagnostic {
        if Self.hostBuiltins.contains(p.name) && host == nil {
            return .error("'{{ \(p.name) }}' is used where there is no host", at: p.location, length: p.width,
                          hint: "give the check 'targets: PATTERN' (or 'on: PATTERN'), or use it only in verify of a step with hosts")
        }
        var candidates = Set(values.keys).union(secretNames)
        candidates.formUnion(Self.builtinNames.subtracting(step == nil ? ["step"] : []))
        let who = host.map { " (first missing for host '\($0)')" } ?? ""
        var hint = "define it under vars:, in the inventory, or with -e \(p.name)=VALUE\(who)"
        if let guess = Suggestions.closest(to: p.name, in: candidates.sorted()) {
            hint = "did you mean '\(guess)'? Otherwise " + hint
        }
        return .error("undefined variable '\(p.name)'", at: p.location, length: p.width, hint: hint)
    }

    private func merge(_ pieces: [RenderedText.Piece]) -> [RenderedText.Piece] {
        var out: [RenderedText.Piece] = []
        for piece in pieces {
            if case let .text(b) = piece, case let .text(a)? = out.last {
                out[out.count - 1] = .text(a + b)
            } else {
                out.append(piece)
            }
        }
        return out
    }
}
