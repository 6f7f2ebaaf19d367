import Foundation

/// `approval:` in a playbook.
public struct ApprovalSetting: Sendable, Equatable {
    public var required: Bool
    public var approvers: [String]
    /// Resolved against the playbook's folder.
    public var allowedSigners: String?
    public var location: SourceLocation
    public init(required: Bool, approvers: [String], allowedSigners: String?, location: SourceLocation) {
        self.required = required; self.approvers = approvers; self.allowedSigners = allowedSigners; self.location = location
    }
}

/// `approval:` in the configuration file: playbooks of these criticalities need an approval by
/// one of `approvers` (anyone in the file when empty), whatever the playbook says.
public struct ApprovalPolicy: Sendable, Equatable {
    public var requireFor: Set<Criticality>
    public var allowedSigners: String
    public var approvers: [String]
    /// The configuration file it came from.
    public var file: String
    public init(requireFor: Set<Criticality>, allowedSigners: String, approvers: [String], file: String) {
        self.requireFor = requireFor; self.allowedSigners = allowedSigners; self.approvers = approvers; self.file = file
    }
}
