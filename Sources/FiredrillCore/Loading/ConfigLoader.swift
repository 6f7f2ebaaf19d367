import Foundation

/// The configuration file: what holds for every playbook on this controller (or every
/// controller that installs it in /etc): the approval policy (docs/approval.md) and where
/// notifications go (docs/notifications.md).
///
///     approval:
///       require_for: [critical, high]
///       allowed_signers: /etc/firedrill/allowed_signers
///       approvers: [alice@example.org, bob@example.org]
public struct FiredrillConfig: Sendable, Equatable {
    /// The file read (nil: none exists).
    public var file: String?
    public var approval: ApprovalPolicy?
    /// Where every drill's notifications go (beside each playbook's own `notify:`), and `due`'s.
    public var notify: [NotifyTarget] = []

    public init(file: String? = nil, approval: ApprovalPolicy? = nil, notify: [NotifyTarget] = []) {
        self.file = file; self.approval = approval; self.notify = notify
    }

    static let topKeys = ["approval", "notify"]

    /// `--config FILE`, else `$FIREDRILL_CONFIG`, else `$XDG_CONFIG_HOME/firedrill/config.yml`
    /// (`~/.config/…`) when it exists, else `/etc/firedrill/config.yml` when it exists. A file
    /// named by the flag or the variable must exist.
    public static func path(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> (path: String, named: Bool)? {
        if let explicit { return (explicit, true) }
        if let env = environment["FIREDRILL_CONFIG"], !env.isEmpty { return (env, true) }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        let xdg = environment["XDG_CONFIG_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? home + "/.config"
        for candidate in [xdg + "/firedrill/config.yml", "/etc/firedrill/config.yml"] where FileManager.default.fileExists(atPath: candidate) {
            return (candidate, false)
        }
        return nil
    }

    /// Reads the configuration (an empty one when there is no file); every mistake with its place.
    public static func load(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws(DiagnosticsError) -> FiredrillConfig {
        guard let (file, named) = path(explicit: explicit, environment: environment) else { return FiredrillConfig() }
        let text: String
        switch TextFile.read(file) {
        case let .success(t): text = t
        case let .failure(u):
            throw DiagnosticsError([.error("cannot read the configuration file '\(file)': \(u.why)",
                                           hint: named ? "give an existing file with --config (or $FIREDRILL_CONFIG), or leave it out" : "fix or remove it")])
        }
        return try parse(text, file: file)
    }

    public static func parse(_ text: String, file: String) throws(DiagnosticsError) -> FiredrillConfig {
        let sources = [file: text]
        let (root, yamlDiagnostics) = YAMLReader.parse(text, file: file)
        var reader = NodeReader()
        reader.diagnostics = yamlDiagnostics
        var config = FiredrillConfig(file: file)
        if let root, !root.isNull, let top = reader.mapping(root, "the configuration file", allowed: topKeys) {
            config.approval = top["approval"].flatMap { readApproval($0, file: file, &reader) }
            config.notify = top["notify"].map { reader.notifyTargets($0, file: file) } ?? []
        }
        if reader.diagnostics.hasErrors { throw DiagnosticsError(reader.diagnostics, sources: sources) }
        return config
    }

    static func readApproval(_ node: YAMLNode, file: String, _ reader: inout NodeReader) -> ApprovalPolicy? {
        guard let m = reader.mapping(node, "approval", allowed: ["require_for", "allowed_signers", "approvers"]) else { return nil }
        var kinds = Set<Criticality>()
        for item in m["require_for"].map({ reader.nameList($0, "require_for") }) ?? [] {
            if let c = Criticality(rawValue: item.value) { kinds.insert(c) } else {
                reader.diagnostics.append(.error("'\(item.value)' is not a criticality", at: item.location, length: item.width,
                                                 hint: "require_for lists criticalities: \(Criticality.allCases.map(\.rawValue).joined(separator: ", "))"))
            }
        }
        let approvers = m["approvers"].map { reader.nameList($0, "approvers").map(\.value) } ?? []
        guard let n = m["allowed_signers"] else {
            reader.error("the approval policy names no allowed signers file", at: node,
                         hint: "add 'allowed_signers: FILE' (one line per approver: 'alice@example.org ssh-ed25519 AAAA…')")
            return nil
        }
        guard let path = reader.nonEmptyString(n, "allowed_signers") else { return nil }
        let resolved = resolvePath(path, relativeTo: file)
        guard FileManager.default.isReadableFile(atPath: resolved) else {
            reader.error("allowed_signers '\(path)' does not exist (looked for \(resolved))", at: n,
                         hint: "paths are relative to the configuration file's folder")
            return nil
        }
        return ApprovalPolicy(requireFor: kinds, allowedSigners: resolved, approvers: approvers, file: file)
    }
}
