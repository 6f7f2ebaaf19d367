/// The result of one evaluation of one check: the evidence a journal and an auditor need.
public struct CheckOutcome: Sendable, Equatable, Codable {
    /// What one probe found.
    public enum Status: String, Sendable, Equatable, Codable {
        /// The expectation held (HTTP 200 with "ok", the port accepted, the command exited 0…).
        case passed
        /// A real answer that is not the expected one: the service is not answering (refused,
        /// timed out, an HTTP error status, a command that ran and exited non-zero, no such record).
        /// Only this satisfies a `down` expectation.
        case failed
        /// The probe could not be made at all (the name does not resolve, the `on:` host is
        /// unreachable, the check's tool is missing on the host): says nothing about the service.
        case error
        /// Not evaluated.
        case skipped
    }

    public var status: Status
    /// What was seen: `HTTP 200 in 4 ms, body contains "ok"`, `connection refused`, … or why the
    /// probe could not be made.
    public var detail: String
    public var latencyMS: Double

    public var passed: Bool { status == .passed }

    public init(_ status: Status, detail: String, latency: Duration) {
        self.status = status
        self.detail = detail
        self.latencyMS = (DurationText.seconds(latency) * 1000 * 10).rounded() / 10
    }

    /// passed, or failed (a real answer).
    public init(passed: Bool, detail: String, latency: Duration) {
        self.init(passed ? .passed : .failed, detail: detail, latency: latency)
    }

    enum CodingKeys: String, CodingKey { case status, passed, detail, latencyMS = "latency_ms" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        status = try c.decode(Status.self, forKey: .status)
        detail = try c.decode(String.self, forKey: .detail)
        latencyMS = try c.decode(Double.self, forKey: .latencyMS)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(status, forKey: .status)
        try c.encode(passed, forKey: .passed)
        try c.encode(detail, forKey: .detail)
        try c.encode(latencyMS, forKey: .latencyMS)
    }
}
