import Foundation

extension NodeReader {
    /// `notify:` in a playbook or the configuration file: a list of targets.
    mutating func notifyTargets(_ node: YAMLNode, file: String) -> [NotifyTarget] {
        if node.isNull { return [] }
        guard let items = node.items else {
            error("notify must be a list of targets, found \(node.typeName)", at: node,
                  hint: "e.g. notify: [{ webhook: env:SLACK_WEBHOOK_URL, format: slack, on: [failed, restore_failed] }]")
            return []
        }
        return items.compactMap { notifyTarget($0, file: file) }
    }

    mutating func notifyTarget(_ node: YAMLNode, file: String) -> NotifyTarget? {
        guard let m = mapping(node, "a notify target", allowed: ["webhook", "command", "format", "on", "timeout", "retries"]) else { return nil }
        let destination: NotifyTarget.Destination
        switch (m["webhook"], m["command"]) {
        case let (w?, nil):
            guard let text = nonEmptyString(w, "webhook") else { return nil }
            if let source = SecretSource(text) {
                // A file is read relative to `file` when it is sent (SecretDeclaration.resolve).
                destination = .webhook(.secret(source))
            } else {
                let lower = text.lowercased()
                guard lower.hasPrefix("http://") || lower.hasPrefix("https://"), URLComponents(string: text)?.host != nil else {
                    error("webhook '\(TerminalText.safe(String(text.prefix(80))))' is not an http(s) URL", at: w,
                          hint: "give the URL, or where to read it when it holds a token: env:NAME or file:PATH (a Slack webhook's URL is its credential)")
                    return nil
                }
                destination = .webhook(.literal(text))
            }
        case let (nil, c?):
            guard let text = nonEmptyString(c, "command") else { return nil }
            destination = .command(text)
        case (_?, _?):
            error("a notify target is a webhook or a command, not both", at: node, hint: "split it into two targets")
            return nil
        case (nil, nil):
            error("a notify target needs 'webhook:' or 'command:'", at: node,
                  hint: "e.g. { webhook: env:SLACK_WEBHOOK_URL } or { command: \"mail -s Firedrill oncall@example.org\" }")
            return nil
        }
        var target = NotifyTarget(destination: destination, file: file, location: node.location)
        if let f = m["format"], let format = enumValue(f, "format", NotifyTarget.Format.self) {
            if case .command = destination { error("format applies to webhooks; a command reads the JSON on its standard input", at: f) }
            target.format = format
        }
        if let on = m["on"] {
            var events = Set<NotifyEvent>()
            for item in nameList(on, "on") {
                if let e = NotifyEvent(rawValue: item.value) { events.insert(e) } else {
                    let all = NotifyEvent.allCases.map(\.rawValue)
                    let guess = Suggestions.closest(to: item.value, in: all).map { "did you mean '\($0)'? " } ?? ""
                    diagnostics.append(.error("'\(item.value)' is not something to notify on", at: item.location, length: item.width,
                                              hint: "\(guess)on: lists \(all.joined(separator: ", "))"))
                }
            }
            target.on = events
        }
        if let t = m["timeout"], let d = duration(t, "timeout") {
            if d < .milliseconds(100) || d > .seconds(120) {
                error("a notification's timeout must be between 100ms and 2m, found \(DurationText.format(d))", at: t,
                      hint: "the whole time one notification may take, retries included: it never holds a drill up longer")
            } else { target.timeout = d }
        }
        if let r = m["retries"], let n = int(r, "retries", range: 0...5) { target.retries = n }
        return target
    }
}
