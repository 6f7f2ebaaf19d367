/// A named probe that tells whether (part of) the service answers.
public struct Check: Sendable, Equatable {
    public var name: String
    public var location: SourceLocation
    public var kind: Kind
    /// Deadline for one attempt.
    public var timeout: Duration
    /// Run the check from each of these hosts (over SSH) instead of from the controller.
    public var on: Located<String>?
    /// Evaluate the check once per selected host, with `{{ host }}` bound to it.
    public var targets: Located<String>?
    /// The file the check was defined in (a playbook or an included checks file).
    public var file: String
    /// The check's own `become*` keys, for a check run on a host (`on:`).
    public var become = BecomeSetting()

    public static let defaultTimeout: Duration = .seconds(5)

    public enum Kind: Sendable, Equatable {
        case http(HTTPCheck)
        case tcp(target: Template)
        case dns(DNSCheck)
        case tls(TLSCheck)
        case command(CommandCheck)
        case fileAge(FileAgeCheck)
        case prometheus(PrometheusCheck)

        public var typeName: String {
            switch self {
            case .http: return "http"
            case .tcp: return "tcp"
            case .dns: return "dns"
            case .tls: return "tls"
            case .command: return "command"
            case .fileAge: return "file_age"
            case .prometheus: return "prometheus"
            }
        }

        /// Every template the check renders, for validation and planning.
        public var templates: [Template] {
            switch self {
            case let .http(h): return [h.url] + h.headers.map(\.value)
            case let .tcp(t): return [t]
            case let .dns(d): return [d.name] + d.expect + (d.server.map { [$0] } ?? [])
            case let .tls(t): return [t.target]
            case let .command(c): return [c.run]
            case let .fileAge(f): return [f.path]
            case let .prometheus(p): return [p.url, p.query] + (p.bearerToken.map { [$0] } ?? [])
            }
        }
    }

    public static let kindNames = ["http", "tcp", "dns", "tls", "command", "file_age", "prometheus"]
}

public struct HTTPCheck: Sendable, Equatable {
    public var url: Template
    public var method: String
    public var headers: [(name: String, value: Template)]
    public var expectStatus: [Int]
    public var bodyContains: String?
    public var bodyRegex: String?
    public var expectHeaders: [String: String]
    public var maxLatency: Duration?
    /// Verify the server certificate (on unless `insecure: true`).
    public var verifyTLS: Bool
    public var caFile: String?

    public static func == (a: HTTPCheck, b: HTTPCheck) -> Bool {
        a.url == b.url && a.method == b.method && a.headers.map(\.name) == b.headers.map(\.name)
            && a.headers.map(\.value) == b.headers.map(\.value) && a.expectStatus == b.expectStatus
            && a.bodyContains == b.bodyContains && a.bodyRegex == b.bodyRegex && a.expectHeaders == b.expectHeaders
            && a.maxLatency == b.maxLatency && a.verifyTLS == b.verifyTLS && a.caFile == b.caFile
    }
}

public struct DNSCheck: Sendable, Equatable {
    public var name: Template
    /// `address[:port]` of a DNS server to ask; nil uses the system resolver.
    public var server: Template?
    public var recordType: String
    /// The answer must contain each of these.
    public var expect: [Template]
}

public struct TLSCheck: Sendable, Equatable {
    /// `host:port`.
    public var target: Template
    public var serverName: String?
    /// Fail when the certificate expires in fewer days.
    public var minDaysValid: Int
    public var caFile: String?
}

public struct CommandCheck: Sendable, Equatable {
    public var run: Template
    public var expectExit: Int
    public var outputContains: String?
}

public struct FileAgeCheck: Sendable, Equatable {
    public var path: Template
    public var maxAge: Duration
}

/// A PromQL query whose single value is compared with a threshold (`/api/v1/query`).
public struct PrometheusCheck: Sendable, Equatable {
    /// The Prometheus server, e.g. `http://prometheus:9090`.
    public var url: Template
    public var query: Template
    public var expect: Comparison
    /// Sent as `Authorization: Bearer …` (from a secret).
    public var bearerToken: Template?
}

/// `< 0.05`, `>= 1`, `== 0`: how a measured value must compare with a threshold.
public struct Comparison: Sendable, Equatable, CustomStringConvertible {
    public enum Operator: String, Sendable, CaseIterable { case le = "<=", ge = ">=", eq = "==", ne = "!=", lt = "<", gt = ">" }
    public var op: Operator
    public var value: Double

    public init(_ op: Operator, _ value: Double) { self.op = op; self.value = value }

    /// `< 0.05`, `<0.05`, `== 1`; a bare number means `==`.
    public init?(_ text: String) {
        let t = text.trimmingCharacters(in: .whitespaces)
        let op = Operator.allCases.first { t.hasPrefix($0.rawValue) }
        let number = t.dropFirst(op?.rawValue.count ?? 0).trimmingCharacters(in: .whitespaces)
        guard let v = Double(number), v.isFinite else { return nil }
        self.init(op ?? .eq, v)
    }

    public func holds(_ x: Double) -> Bool {
        switch op {
        case .lt: return x < value
        case .le: return x <= value
        case .gt: return x > value
        case .ge: return x >= value
        case .eq: return x == value
        case .ne: return x != value
        }
    }

    public var description: String { "\(op.rawValue) \(Comparison.format(value))" }

    /// `0.05`, `1`, `1.5e+09`: as short as the number allows.
    public static func format(_ x: Double) -> String {
        if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
        return "\(x)"
    }
}
