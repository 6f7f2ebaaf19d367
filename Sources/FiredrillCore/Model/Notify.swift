import Foundation

/// What a notification tells.
public enum NotifyEvent: String, Sendable, Equatable, Hashable, Codable, CaseIterable {
    /// The drill passed its preflight and the failover begins.
    case started
    case passed
    /// The drill failed, or did not start (preconditions), or its record is incomplete.
    case failed
    case interrupted
    /// Restore failed or was abandoned: hosts may still be failed over. Always sent to every
    /// target, whatever its `on:` says.
    case restoreFailed = "restore_failed"
    case guardTripped = "guard_tripped"
    /// From `due`: a service is past its grace period, or never drilled.
    case overdue

    /// Targets that do not say `on:` hear these.
    public static let defaults: Set<NotifyEvent> = [.failed, .interrupted, .restoreFailed, .guardTripped, .overdue]
}

/// One place notifications go (`notify:` in a playbook or the configuration file).
///
///     notify:
///       - { webhook: env:SLACK_WEBHOOK_URL, format: slack, on: [failed, restore_failed] }
///       - { webhook: "https://alerts.example.org/firedrill", on: [started, passed, failed] }
///       - { command: "mail -s 'Firedrill' it-oncall@hospital.example", on: [failed] }
public struct NotifyTarget: Sendable, Equatable {
    public enum Destination: Sendable, Equatable {
        /// A URL as written, or where to read it (`env:NAME`, `file:PATH`): a Slack webhook's
        /// URL is its credential.
        case webhook(WebhookURL)
        /// Run locally with `/bin/sh -c`; the notification's JSON on its standard input.
        case command(String)
    }

    public enum WebhookURL: Sendable, Equatable {
        case literal(String)
        case secret(SecretSource)
    }

    public enum Format: String, Sendable, Equatable, CaseIterable {
        /// Firedrill's fields (docs/notifications.md), with a `text` line.
        case json
        /// `{"text": "…"}`: what Slack, Mattermost and Teams incoming webhooks take.
        case slack
    }

    public var destination: Destination
    public var format: Format
    public var on: Set<NotifyEvent>
    /// The whole budget of one notification to this target, retries included.
    public var timeout: Duration
    /// Further attempts after a failed one (a connection refused, a 5xx answer, a command that failed).
    public var retries: Int
    /// The file the target was written in (a playbook or the configuration file).
    public var file: String
    public var location: SourceLocation

    public static let defaultTimeout: Duration = .seconds(5)
    public static let defaultRetries = 2

    public init(destination: Destination, format: Format = .json, on: Set<NotifyEvent> = NotifyEvent.defaults,
                timeout: Duration = NotifyTarget.defaultTimeout, retries: Int = NotifyTarget.defaultRetries, file: String, location: SourceLocation) {
        self.destination = destination; self.format = format; self.on = on; self.timeout = timeout; self.retries = retries
        self.file = file; self.location = location
    }

    /// Whether it hears `event` (restore failing is always heard).
    public func hears(_ event: NotifyEvent) -> Bool { event == .restoreFailed || on.contains(event) }

    /// Where it goes, safe to print and journal: a URL's path and query are left out (they
    /// often hold the webhook's token), a secret's source is named.
    public var label: String {
        switch destination {
        case let .command(c): return "command " + (c.count > 60 ? String(c.prefix(57)) + "…" : c)
        case let .webhook(.secret(source)): return "webhook \(source)"
        case let .webhook(.literal(url)):
            guard let u = URLComponents(string: url), let scheme = u.scheme, let host = u.host else { return "webhook (a URL)" }
            let port = u.port.map { ":\($0)" } ?? ""
            return "webhook \(scheme)://\(host)\(port)" + (u.path.isEmpty || u.path == "/" ? "" : "/…")
        }
    }
}
