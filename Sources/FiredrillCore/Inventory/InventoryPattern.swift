import Foundation

/// Host selection by pattern, exactly as `ansible PATTERN --list-hosts` does it.
/// Each rule names the function of ansible-core's `lib/ansible/inventory/manager.py` it mirrors.
public struct InventoryPattern: Sendable {
    public enum Problem: Error, Equatable {
        case invalidRegex(String)
        case subscriptOutOfRange(String)

        /// The problem as a diagnostic for the user, pointing at where the pattern was written.
        public func diagnostic(at location: SourceLocation? = nil, length: Int = 1) -> Diagnostic {
            switch self {
            case let .invalidRegex(p):
                return .error("'\(p)' is not a valid regular expression", at: location, length: length,
                              hint: "patterns starting with '~' are regular expressions; check brackets and escapes")
            case let .subscriptOutOfRange(p):
                return .error("'\(p)' asks for a host position that does not exist", at: location, length: length,
                              hint: "subscripts count from 0: group[0] is the first host")
            }
        }
    }

    public struct Selection: Sendable, Equatable {
        public var hosts: [String]
        /// Parts of the pattern that matched nothing (Ansible warns about these).
        public var unmatched: [String]
    }

    public let inventory: Inventory

    public init(_ inventory: Inventory) { self.inventory = inventory }

    /// get_hosts(pattern) with an optional `--limit` (subset), deduplicated in order.
    public func select(_ pattern: String, limit: String? = nil) throws(Problem) -> Selection {
        var unmatched: [String] = []
        var hosts = try evaluate(Self.orderPatterns(Self.split(pattern)), unmatched: &unmatched)
        if let limit, !limit.isEmpty {
            var ignored: [String] = []
            let subset = Set(try evaluate(Self.orderPatterns(Self.split(limit)), unmatched: &ignored))
            hosts = hosts.filter { subset.contains($0) }
        }
        var seen = Set<String>()
        return Selection(hosts: hosts.filter { seen.insert($0).inserted }, unmatched: unmatched)
    }

    /// A `--limit` that is empty, malformed, or selects no host is an error: a drill scoped by a
    /// limit that means nothing must not quietly run on every host, or on none. Stricter than
    /// Ansible, which takes `db[` as `db` and `''` as "no limit".
    public func limitProblem(_ limit: String) -> Diagnostic? {
        let hint = "give a pattern in Ansible syntax, e.g. --limit db1 or --limit 'db:!db2'; firedrill inventory -i INVENTORY PATTERN shows what one selects"
        if let problem = Self.syntaxProblem(limit) {
            return .error("--limit '\(limit)' \(problem)", hint: hint)
        }
        do {
            var ignored: [String] = []
            let hosts = try evaluate(Self.orderPatterns(Self.split(limit)), unmatched: &ignored)
            if hosts.isEmpty {
                return .error("--limit '\(limit)' selects no host in the inventory",
                              hint: Suggestions.hint(for: ignored.first ?? limit, among: inventory.userGroups + inventory.hostOrder,
                                                     noun: "group or host", listLabel: "groups and hosts"))
            }
        } catch {
            var d = error.diagnostic()
            d.message = "--limit: " + d.message
            return d
        }
        return nil
    }

    /// What is wrong with how a pattern is written (not what it selects), or nil.
    public static func syntaxProblem(_ pattern: String) -> String? {
        if pattern.trimmingCharacters(in: .whitespaces).isEmpty { return "is empty" }
        var depth = 0
        for c in pattern {
            if c == "[" { depth += 1 } else if c == "]" { depth -= 1 }
            if depth < 0 || depth > 1 { return "has unbalanced brackets" }
        }
        if depth != 0 { return "has an unclosed '['" }
        let terms = split(pattern)
        if terms.isEmpty { return "names no group or host" }
        if let bare = terms.first(where: { $0 == "!" || $0 == "&" }) { return "has '\(bare)' with no group or host after it" }
        return nil
    }

    /// split_host_pattern: commas first; otherwise a single host address (which may hold
    /// ':' in a port or a range); otherwise ':'-separated, keeping bracketed parts whole.
    public static func split(_ pattern: String) -> [String] {
        let parts: [String]
        if pattern.contains(",") {
            parts = pattern.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        } else if HostAddress.parse(pattern) != nil {
            parts = [pattern]
        } else {
            // re.findall(r'(?:[^\s:\[\]]|\[[^\]]*\])+', pattern)
            var out: [String] = []
            var current = ""
            var chars = Array(pattern)[...]
            while let c = chars.first {
                if c == "[" {
                    if let close = chars.firstIndex(of: "]") {
                        current += String(chars[chars.startIndex...close])
                        chars = chars[(close + 1)...]
                        continue
                    }
                    if !current.isEmpty { out.append(current); current = "" }
                    chars = chars.dropFirst()
                } else if c == ":" || c == "]" || c.isWhitespace {
                    if !current.isEmpty { out.append(current); current = "" }
                    chars = chars.dropFirst()
                } else {
                    current.append(c)
                    chars = chars.dropFirst()
                }
            }
            if !current.isEmpty { out.append(current) }
            parts = out
        }
        return parts.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// order_patterns: regular patterns, then `&` intersections, then `!` exclusions;
    /// only exclusions/intersections means they apply to `all`.
    public static func orderPatterns(_ patterns: [String]) -> [String] {
        var regular: [String] = [], intersection: [String] = [], exclude: [String] = []
        for p in patterns where !p.isEmpty {
            if p.hasPrefix("!") { exclude.append(p) }
            else if p.hasPrefix("&") { intersection.append(p) }
            else { regular.append(p) }
        }
        if regular.isEmpty { regular = ["all"] }
        return regular + intersection + exclude
    }

    /// _evaluate_patterns.
    func evaluate(_ patterns: [String], unmatched: inout [String]) throws(Problem) -> [String] {
        var hosts: [String] = []
        for p in patterns {
            if inventory.hosts[p] != nil {
                // "avoid resolving a pattern that is a plain host"
                hosts.append(p)
                continue
            }
            let that = try matchOne(p, unmatched: &unmatched)
            if p.hasPrefix("!") {
                let set = Set(that)
                hosts = hosts.filter { !set.contains($0) }
            } else if p.hasPrefix("&") {
                let set = Set(that)
                hosts = hosts.filter { set.contains($0) }
            } else {
                let existing = Set(hosts)
                hosts += that.filter { !existing.contains($0) }
            }
        }
        return hosts
    }

    /// _match_one_pattern: strip & or !, split off a subscript, enumerate, apply the subscript.
    func matchOne(_ pattern: String, unmatched: inout [String]) throws(Problem) -> [String] {
        var p = pattern
        if p.hasPrefix("&") || p.hasPrefix("!") { p.removeFirst() }
        guard !p.isEmpty else { return [] }
        let (expr, sub) = Self.splitSubscript(p)
        let hosts = try enumerate(expr)
        if hosts.isEmpty && expr != "all" { unmatched.append(p) }
        guard let (start, end) = sub else { return hosts }
        // _apply_subscript: [i] is one host (negative counts from the end); [a:b] is inclusive.
        if let end {
            let last = end == -1 ? hosts.count - 1 : end
            let lo = min(start, hosts.count), hi = min(last + 1, hosts.count)
            return lo < hi ? Array(hosts[lo..<hi]) : []
        }
        let index = start < 0 ? hosts.count + start : start
        guard index >= 0, index < hosts.count else { throw .subscriptOutOfRange(pattern) }
        return [hosts[index]]
    }

    /// _split_subscript: `name[3]`, `name[1:4]`, `name[2:]`; regexes (`~…`) have none.
    static func splitSubscript(_ pattern: String) -> (String, (Int, Int?)?) {
        guard !pattern.hasPrefix("~"), pattern.hasSuffix("]"), let open = pattern.lastIndex(of: "["),
              open > pattern.startIndex else { return (pattern, nil) }
        let inner = String(pattern[pattern.index(after: open)..<pattern.index(before: pattern.endIndex)])
        let expr = String(pattern[..<open])
        if let i = Int(inner), inner.allSatisfy({ $0.isNumber || $0 == "-" }) {
            return (expr, (i, nil))
        }
        for sep in [":", "-"] {
            let parts = inner.split(separator: Character(sep), maxSplits: 1, omittingEmptySubsequences: false)
            if parts.count == 2, let start = Int(parts[0]), parts[0].allSatisfy(\.isNumber),
               parts[1].isEmpty || parts[1].allSatisfy(\.isNumber) {
                let end = parts[1].isEmpty ? -1 : Int(parts[1])!
                // Ansible treats an end of 0 as "no end" (`if end:`), giving just hosts[start].
                return (expr, (start, end == 0 ? nil : end))
            }
        }
        return (pattern, nil)
    }

    /// _enumerate_matches: groups matching the pattern, then hosts if no group matched or the
    /// pattern is a regex/glob.
    func enumerate(_ pattern: String) throws(Problem) -> [String] {
        var results: [String] = []
        let matcher = try Self.matcher(pattern)
        let groups = inventory.groupOrder.filter(matcher)
        for g in groups { results += inventory.hostsOf(group: g) }
        if groups.isEmpty || pattern.hasPrefix("~") || pattern.contains(where: { ".?*[".contains($0) }) {
            results += inventory.hostOrder.filter(matcher)
        }
        if results.isEmpty, Inventory.localhostNames.contains(pattern) {
            // Ansible's implicit localhost: the controller, reached without SSH.
            results.append(pattern)
        }
        return results
    }

    /// _match_list: fnmatch for globs (anchored), `re.match` for `~regex` (anchored at the start only).
    public static func matcher(_ pattern: String) throws(Problem) -> (String) -> Bool {
        if !pattern.hasPrefix("~"), !pattern.contains(where: { "*?[".contains($0) }) {
            return { $0 == pattern }
        }
        let regex = pattern.hasPrefix("~") ? "^(?:" + pattern.dropFirst() + ")" : "^" + fnmatchTranslate(pattern) + "$"
        guard let r = try? NSRegularExpression(pattern: regex, options: [.dotMatchesLineSeparators]) else {
            throw .invalidRegex(pattern)
        }
        return { name in r.firstMatch(in: name, range: NSRange(name.startIndex..., in: name)) != nil }
    }

    /// Python's fnmatch.translate: `*`, `?`, `[seq]`, `[!seq]`.
    static func fnmatchTranslate(_ pat: String) -> String {
        var out = ""
        let chars = Array(pat)
        var i = 0
        while i < chars.count {
            let c = chars[i]; i += 1
            switch c {
            case "*": out += ".*"
            case "?": out += "."
            case "[":
                var j = i
                if j < chars.count, chars[j] == "!" { j += 1 }
                if j < chars.count, chars[j] == "]" { j += 1 }
                while j < chars.count, chars[j] != "]" { j += 1 }
                if j >= chars.count {
                    out += "\\["
                } else {
                    var stuff = String(chars[i..<j]).replacingOccurrences(of: "\\", with: "\\\\")
                    i = j + 1
                    if stuff.first == "!" { stuff = "^" + stuff.dropFirst() }
                    else if stuff.first == "^" { stuff = "\\" + stuff }
                    out += "[\(stuff)]"
                }
            default:
                out += NSRegularExpression.escapedPattern(for: String(c))
            }
        }
        return out
    }
}
