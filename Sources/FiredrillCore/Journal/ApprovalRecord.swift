import Foundation

/// What `run_started` records of the approval a drill ran under: the document and its
/// signature as they were (so an auditor re-checks them with ssh-keygen), and who, which key,
/// which ticket and window, in words.
public struct ApprovalRecord: Sendable, Codable, Equatable {
    public var approver: String
    /// `SHA256:…` of the key that signed.
    public var key: String?
    public var ticket: String?
    public var windowFrom: String
    public var windowUntil: String
    public var approvedAt: String
    public var file: String
    /// The approval file's text, and its `.sig`.
    public var document: String
    public var signature: String

    enum CodingKeys: String, CodingKey {
        case approver, key, ticket, windowFrom = "window_from", windowUntil = "window_until", approvedAt = "approved_at", file, document, signature
    }

    public init(approver: String, key: String?, ticket: String?, windowFrom: String, windowUntil: String, approvedAt: String,
                file: String, document: String, signature: String) {
        self.approver = approver; self.key = key; self.ticket = ticket; self.windowFrom = windowFrom; self.windowUntil = windowUntil
        self.approvedAt = approvedAt; self.file = file; self.document = document; self.signature = signature
    }

    /// `alice@example.org (CHG-123), window 2026-12-05T02:00:00.000Z..2026-12-05T06:00:00.000Z`.
    public var summary: String {
        "\(approver)\(ticket.map { " (\($0))" } ?? ""), window \(windowFrom)..\(windowUntil)\(key.map { ", key \($0)" } ?? "")"
    }
}
