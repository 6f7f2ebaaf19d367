import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOTLS

/// Evaluates planned checks: from the controller (HTTP via async-http-client, TCP/TLS via
/// SwiftNIO, DNS via the system resolver or a named server), or from a host over its transport.
/// Never throws: every failure is an outcome with its reason.
public struct CheckRunner: Sendable {
    public typealias TransportLookup = @Sendable (String) async -> (any Transport)?
    let transport: TransportLookup
    let secrets: [String: Secret]
    let mask: SecretMasker

    /// `transport` gives the connection of a host, for `on:` checks.
    public init(secrets: [String: Secret] = [:], transport: @escaping TransportLookup) {
        self.secrets = secrets
        self.mask = SecretMasker(secrets)
        self.transport = transport
    }

    /// Evaluates once. The evidence never holds a secret value, whoever prints or journals it:
    /// a server or command may echo what it was sent.
    public func evaluate(_ check: PlannedCheck) async -> CheckOutcome {
        var outcome = await evaluateUnmasked(check)
        outcome.detail = mask(outcome.detail)
        return outcome
    }

    func evaluateUnmasked(_ check: PlannedCheck) async -> CheckOutcome {
        let started = ContinuousClock.now
        do {
            let target = try check.target.reveal(secrets)
            if let from = check.from {
                guard let t = await transport(from) else { return CheckOutcome(.error, detail: "no connection to \(from)", latency: .zero) }
                return try await evaluateRemotely(check, target: target, on: check.become.map { BecomingTransport(base: t, become: $0) } ?? t)
            }
            switch check.definition.kind {
            case let .http(h): return try await http(h, url: target, headers: check.headers, timeout: check.timeout.duration)
            case .tcp: return try await tcp(target, timeout: check.timeout.duration)
            case let .dns(d): return try await dns(d, name: target, check: check)
            case let .tls(t): return try await tls(t, target: target, timeout: check.timeout.duration)
            case let .prometheus(p):
                return await prometheus(p, server: target, query: try check.query?.reveal(secrets) ?? "",
                                        token: try check.token?.reveal(secrets), timeout: check.timeout.duration)
            case .command, .fileAge:
                // The loader requires on: for these (on: localhost runs them here, through the pool).
                return CheckOutcome(.error, detail: "\(check.type) checks run on a host: add on:", latency: .zero)
            }
        } catch {
            return CheckOutcome(Self.status(of: error), detail: Self.describe(error), latency: .now - started)
        }
    }

    // MARK: - HTTP

    /// One client for the process. A refused connection must fail the check at once (the default
    /// retries until the deadline, which made every `down` check take its whole timeout), and a
    /// redirect is an answer of its own, not something to follow.
    static let httpClient: HTTPClient = {
        var config = HTTPClient.Configuration()
        config.connectionPool.retryConnectionEstablishment = false
        config.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: config)
    }()

    func http(_ h: HTTPCheck, url: String, headers: [String: RenderedText], timeout: Duration) async throws -> CheckOutcome {
        // The planner refuses other schemes; a secret that renders one is refused here too.
        let lower = url.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else {
            throw CheckFailure("the URL is not http:// or https://: an http check only asks web servers")
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        if !h.verifyTLS { tls.certificateVerification = .none }
        if let ca = h.caFile { tls.trustRoots = .file(ca) }
        var httpHeaders = HTTPHeaders()
        for (name, value) in headers { httpHeaders.add(name: name, value: try value.reveal(secrets)) }
        let request = try HTTPClient.Request(url: url, method: HTTPMethod(rawValue: h.method), headers: httpHeaders, tlsConfiguration: tls)
        let started = ContinuousClock.now
        let response = try await Self.httpClient.execute(request: request, deadline: .now() + .nanoseconds(Int64(DurationText.seconds(timeout) * 1e9))).get()
        let latency = ContinuousClock.now - started
        let body = response.body.map { String(buffer: $0) } ?? ""
        let responseHeaders = Dictionary(response.headers.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { a, _ in a })
        return Self.judgeHTTP(h, status: Int(response.status.code), headers: responseHeaders, body: body, latency: latency)
    }

    /// The expectations of an HTTP check against what came back (shared by controller and `on:` checks).
    static func judgeHTTP(_ h: HTTPCheck, status: Int, headers: [String: String], body: String, latency: Duration) -> CheckOutcome {
        var problems: [String] = []
        if !h.expectStatus.contains(status) {
            problems.append("expected status \(h.expectStatus.map(String.init).joined(separator: " or "))")
        }
        if let needle = h.bodyContains, !body.contains(needle) { problems.append("body does not contain \"\(needle)\"") }
        if let pattern = h.bodyRegex {
            if let re = try? Regex(pattern), (try? re.firstMatch(in: body)) == nil { problems.append("body does not match /\(pattern)/") }
        }
        for (name, value) in h.expectHeaders.sorted(by: { $0.key < $1.key }) where headers[name.lowercased()] != value {
            problems.append("header \(name) is \(headers[name.lowercased()].map { "\"\($0)\"" } ?? "missing"), expected \"\(value)\"")
        }
        if let max = h.maxLatency, latency > max { problems.append("slower than \(DurationText.format(max))") }
        let snippet = body.trimmingCharacters(in: .whitespacesAndNewlines).prefix(120)
        let seen = "HTTP \(status) in \(Self.ms(latency))" + (snippet.isEmpty ? "" : ": \(snippet)")
        return CheckOutcome(passed: problems.isEmpty, detail: problems.isEmpty ? seen : seen + " — " + problems.joined(separator: "; "), latency: latency)
    }

    // MARK: - TCP

    func tcp(_ target: String, timeout: Duration) async throws -> CheckOutcome {
        let (host, port) = try Self.hostPort(target)
        let started = ContinuousClock.now
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.nanoseconds(Int64(DurationText.seconds(timeout) * 1e9)))
            .connect(host: host, port: port).get()
        let latency = ContinuousClock.now - started
        try? await channel.close()
        return CheckOutcome(passed: true, detail: "connected to \(target) in \(Self.ms(latency))", latency: latency)
    }

    // MARK: - TLS

    func tls(_ t: TLSCheck, target: String, timeout: Duration) async throws -> CheckOutcome {
        let (host, port) = try Self.hostPort(target)
        var config = TLSConfiguration.makeClientConfiguration()
        if let ca = t.caFile { config.trustRoots = .file(ca) }
        let context = try NIOSSLContext(configuration: config)
        let serverName = t.serverName ?? host
        let started = ContinuousClock.now
        let handshake = HandshakeWaiter()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.nanoseconds(Int64(DurationText.seconds(timeout) * 1e9)))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let ssl = try NIOSSLClientHandler(context: context, serverHostname: Self.isIPAddress(serverName) ? nil : serverName)
                    try channel.pipeline.syncOperations.addHandlers([ssl, handshake])
                }
            }
            .connect(host: host, port: port).get()
        defer { channel.close(promise: nil) }
        try await handshake.wait(on: channel.eventLoop, timeout: timeout)
        let latency = ContinuousClock.now - started
        guard let cert = try await channel.nioSSL_peerCertificate().get() else {
            return CheckOutcome(passed: false, detail: "\(target) sent no certificate", latency: latency)
        }
        let days = Int((Double(cert.notValidAfter) - Date().timeIntervalSince1970) / 86_400)
        let passed = days >= t.minDaysValid
        let detail = "certificate for \(serverName) valid, expires in \(days) days" + (passed ? "" : " — fewer than \(t.minDaysValid)")
        return CheckOutcome(passed: passed, detail: detail, latency: latency)
    }

    // MARK: - DNS

    func dns(_ d: DNSCheck, name: String, check: PlannedCheck) async throws -> CheckOutcome {
        let expected = try check.expectValues.map { try $0.reveal(secrets) }
        let started = ContinuousClock.now
        let values: [String]
        var via = "system resolver"
        if let serverText = try check.server?.reveal(secrets) {
            let (host, port) = try Self.hostPort(serverText, defaultPort: 53)
            via = serverText
            values = try await DNSClient.query(name: name, type: d.recordType, server: host, port: port, timeout: check.timeout.duration)
        } else {
            values = try await DNSClient.resolve(name: name, type: d.recordType)
        }
        let latency = ContinuousClock.now - started
        let missing = expected.filter { !values.contains($0) }
        let answer = values.isEmpty ? "no records" : values.joined(separator: ", ")
        let detail = "\(name) \(d.recordType) → \(answer) (via \(via), \(Self.ms(latency)))"
            + (missing.isEmpty ? "" : " — expected \(missing.joined(separator: ", "))")
        return CheckOutcome(passed: missing.isEmpty && !values.isEmpty, detail: detail, latency: latency)
    }

    // MARK: - command / file_age (on a transport)

    func command(_ c: CommandCheck, _ run: String, on t: any Transport, timeout: Duration) async throws -> CheckOutcome {
        let r = try await t.run(run, timeout: timeout)
        let output = (r.stdout.text + r.stderr.text).trimmingCharacters(in: .whitespacesAndNewlines)
        // The shell's own "not found" / "cannot execute": the check could not run, which says nothing of the service.
        if c.expectExit != 127 && c.expectExit != 126, r.outcome == .exited(127) || r.outcome == .exited(126) {
            return CheckOutcome(.error, detail: "could not run the check's command (\(r.outcome)): \(output.suffix(160))", latency: r.duration)
        }
        var problems: [String] = []
        if r.outcome != .exited(Int32(c.expectExit)) { problems.append("expected exit \(c.expectExit)") }
        if let needle = c.outputContains, !output.contains(needle) { problems.append("output does not contain \"\(needle)\"") }
        let seen = "\(r.outcome) in \(Self.ms(r.duration))" + (output.isEmpty ? "" : ": \(output.suffix(160))")
        return CheckOutcome(passed: problems.isEmpty, detail: problems.isEmpty ? seen : seen + " — " + problems.joined(separator: "; "), latency: r.duration)
    }

    func fileAge(_ f: FileAgeCheck, path: String, on t: any Transport, timeout: Duration) async throws -> CheckOutcome {
        let q = ShellQuoting.quote(path)
        // The file's own age, through symlinks: a `latest` link to the newest backup is as old
        // as that backup, not as the link (-L).
        let r = try await t.run("stat -L -c %Y \(q) && date +%s", timeout: timeout)
        let lines = r.stdout.text.split(separator: "\n").compactMap { Int($0) }
        guard r.succeeded, lines.count == 2 else {
            let why = r.stderr.text.trimmingCharacters(in: .whitespacesAndNewlines)
            // A missing file is an answer (the export did not happen); a missing `stat` is not.
            let status: CheckOutcome.Status = r.outcome == .exited(127) || r.outcome == .exited(126) ? .error : .failed
            return CheckOutcome(status, detail: "\(path): \(why.isEmpty ? "cannot read its age" : why)", latency: r.duration)
        }
        let age = Duration.seconds(max(0, lines[1] - lines[0]))
        let passed = age <= f.maxAge
        let detail = "\(path) is \(DurationText.format(age)) old" + (passed ? "" : " — older than \(DurationText.format(f.maxAge))")
        return CheckOutcome(passed: passed, detail: detail, latency: r.duration)
    }

    /// `on:` checks: the same probe, run from inside the network with tools found on hosts.
    /// curl for an http check run from a host: only the web, also after a redirect (never
    /// file://, dict://, gopher://), and the URL taken as it is (`-g`: `[1-1000000]` or `{a,b}` in
    /// a URL are not a list of requests to make).
    static func curl(_ h: HTTPCheck, seconds: Int) -> [String] {
        var args = ["curl", "-sS", "-g", "-i", "-m", "\(seconds)", "--proto", "=http,https", "--proto-redir", "=http,https", "-X", h.method]
        if !h.verifyTLS { args.append("-k") }
        if let ca = h.caFile { args += ["--cacert", ca] }
        return args
    }

    func evaluateRemotely(_ check: PlannedCheck, target: String, on t: any Transport) async throws -> CheckOutcome {
        let timeout = check.timeout.duration
        let secs = max(1, Int(DurationText.seconds(timeout).rounded(.up)))
        switch check.definition.kind {
        case let .command(c): return try await command(c, target, on: t, timeout: timeout)
        case let .fileAge(f): return try await fileAge(f, path: target, on: t, timeout: timeout)
        case let .http(h):
            var args = Self.curl(h, seconds: secs)
            for (name, value) in check.headers.sorted(by: { $0.key < $1.key }) { args += ["-H", "\(name): \(try value.reveal(secrets))"] }
            args.append(target)
            let r = try await t.run(args.map(ShellQuoting.quote).joined(separator: " "), timeout: timeout + .seconds(2))
            guard r.succeeded else {
                // curl's exit codes: 7 refused, 28 timed out, 52/56 nothing or a broken answer, 35/51/60 TLS
                // — the service is not answering as it should; 6 (name), 127 (no curl) and others: no probe was made.
                let notAnswering: [CommandResult.Outcome] = [.exited(7), .exited(28), .exited(52), .exited(56), .exited(35), .exited(51), .exited(60), .timedOut]
                let why = r.stderr.text.trimmingCharacters(in: .whitespacesAndNewlines)
                return CheckOutcome(notAnswering.contains(r.outcome) ? .failed : .error,
                                    detail: "curl (\(r.outcome)): \(why.isEmpty ? "no output" : why)", latency: r.duration)
            }
            let (status, headers, body) = Self.parseHTTPResponse(r.stdout.text)
            return Self.judgeHTTP(h, status: status, headers: headers, body: body, latency: r.duration)
        case .tcp:
            let (host, port) = try Self.hostPort(target)
            // /dev/tcp is bash's: under dash (Debian's sh) it is just a missing path.
            let r = try await t.run("exec bash -c " + ShellQuoting.quote("exec 3<>/dev/tcp/\(host)/\(port)"), timeout: timeout)
            let why = r.stderr.text.trimmingCharacters(in: .whitespacesAndNewlines)
            if r.succeeded { return CheckOutcome(.passed, detail: "connected to \(target) from \(check.from ?? "")", latency: r.duration) }
            let couldNotProbe = r.outcome == .exited(127) || r.outcome == .exited(126) || why.contains("not known") || why.contains("resolve")
            return CheckOutcome(couldNotProbe ? .error : .failed, detail: "cannot connect to \(target) from \(check.from ?? ""): \(why)", latency: r.duration)
        case let .dns(d):
            let server = try check.server.map { try $0.reveal(secrets) }
            var cmd = "getent ahosts \(ShellQuoting.quote(target)) | awk '{print $1}' | sort -u"
            if let server {
                let (host, port) = try Self.hostPort(server, defaultPort: 53)
                cmd = "dig +short -p \(port) @\(ShellQuoting.quote(host)) \(ShellQuoting.quote(target)) \(d.recordType)"
            }
            let r = try await t.run(cmd, timeout: timeout)
            if r.outcome == .exited(127) || r.outcome == .exited(126) || r.stderr.text.contains("not found") {
                return CheckOutcome(.error, detail: "could not resolve from \(check.from ?? ""): \(r.stderr.text.trimmingCharacters(in: .whitespacesAndNewlines))", latency: r.duration)
            }
            let values = r.stdout.text.split(whereSeparator: \.isWhitespace).map(String.init)
            let expected = try check.expectValues.map { try $0.reveal(secrets) }
            let missing = expected.filter { !values.contains($0) }
            let detail = "\(target) → \(values.isEmpty ? "no records" : values.joined(separator: ", ")) (from \(check.from ?? ""))"
                + (missing.isEmpty ? "" : " — expected \(missing.joined(separator: ", "))")
            return CheckOutcome(passed: missing.isEmpty && !values.isEmpty, detail: detail, latency: r.duration)
        case .tls:
            return CheckOutcome(.error, detail: "tls checks run from the controller: remove on: from this check", latency: .zero)
        case let .prometheus(p):
            // The token is refused with on: at load (it would be on curl's command line).
            let query = try check.query?.reveal(secrets) ?? ""
            let args = ["curl", "-sS", "-g", "-G", "-H", "Accept: application/json", "-m", "\(secs)", "--proto", "=http,https", "--proto-redir", "=http,https",
                        "-w", "\\n%{http_code}", "--data-urlencode", "query=" + query, Self.prometheusEndpoint(target)]
            let r = try await t.run(args.map(ShellQuoting.quote).joined(separator: " "), timeout: timeout + .seconds(2))
            guard r.succeeded else {
                let why = r.stderr.text.trimmingCharacters(in: .whitespacesAndNewlines)
                return CheckOutcome(.error, detail: "cannot ask Prometheus at \(target) from \(check.from ?? ""): curl (\(r.outcome)): \(why.isEmpty ? "no output" : why)", latency: r.duration)
            }
            let text = r.stdout.text
            let cut = text.lastIndex(of: "\n") ?? text.startIndex
            let status = Int(text[cut...].trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            return Self.judgePrometheus(p, query: query, status: status, body: Data(text[..<cut].utf8), latency: r.duration)
        }
    }

    // MARK: - Prometheus

    /// `SERVER/api/v1/query` (the server's URL may end in `/`).
    static func prometheusEndpoint(_ server: String) -> String {
        (server.hasSuffix("/") ? String(server.dropLast()) : server) + "/api/v1/query"
    }

    /// Asks Prometheus' HTTP API for the query's value now. Whatever keeps an answer from being
    /// one number (Prometheus down, an error, no data, several series, NaN) is "could not
    /// check": it says nothing about the service.
    func prometheus(_ p: PrometheusCheck, server: String, query: String, token: String?, timeout: Duration) async -> CheckOutcome {
        let started = ContinuousClock.now
        do {
            let lower = server.lowercased()
            guard lower.hasPrefix("http://") || lower.hasPrefix("https://"), var url = URLComponents(string: Self.prometheusEndpoint(server)) else {
                return CheckOutcome(.error, detail: "'\(server)' is not an http:// or https:// URL of a Prometheus server", latency: .zero)
            }
            url.queryItems = [URLQueryItem(name: "query", value: query)]
            // URLComponents leaves '+' as it is, which a server reads as a space.
            url.percentEncodedQuery = url.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
            guard let text = url.string else { return CheckOutcome(.error, detail: "cannot make a URL of \(server)", latency: .zero) }
            var headers = HTTPHeaders()
            headers.add(name: "Accept", value: "application/json")
            if let token { headers.add(name: "Authorization", value: "Bearer " + token) }
            let request = try HTTPClient.Request(url: text, method: .GET, headers: headers)
            let response = try await Self.httpClient.execute(request: request, deadline: .now() + .nanoseconds(Int64(DurationText.seconds(timeout) * 1e9))).get()
            let body = response.body.map { Data($0.readableBytesView) } ?? Data()
            return Self.judgePrometheus(p, query: query, status: Int(response.status.code), body: body, latency: ContinuousClock.now - started)
        } catch {
            return CheckOutcome(.error, detail: "cannot ask Prometheus at \(server): \(Self.describe(error))", latency: ContinuousClock.now - started)
        }
    }

    /// The value of an answer of `/api/v1/query` against the check's expectation.
    static func judgePrometheus(_ p: PrometheusCheck, query: String, status: Int, body: Data, latency: Duration) -> CheckOutcome {
        let json = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
        func unknown(_ why: String) -> CheckOutcome { CheckOutcome(.error, detail: "\(query): \(why)", latency: latency) }
        guard status == 200 else {
            let said = (json?["error"] as? String) ?? String(decoding: body.prefix(160), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            return unknown("Prometheus answered HTTP \(status)" + (said.isEmpty ? "" : ": \(said)"))
        }
        if json?["status"] as? String == "error" {
            return unknown("Prometheus answered an error: \((json?["error"] as? String) ?? "no reason given")")
        }
        guard let json, json["status"] as? String == "success", let data = json["data"] as? [String: Any] else {
            return unknown("not an answer of Prometheus' query API (\(String(decoding: body.prefix(80), as: UTF8.self)))")
        }
        let valueText: String?
        switch data["resultType"] as? String {
        case "scalar"?:
            valueText = (data["result"] as? [Any])?.last as? String
        case "vector"?:
            let series = (data["result"] as? [[String: Any]]) ?? []
            guard !series.isEmpty else { return unknown("no data (the query matches no series now)") }
            guard series.count == 1 else {
                let names = series.prefix(3).map { s in
                    let labels = (s["metric"] as? [String: String]) ?? [:]
                    return "{" + labels.keys.sorted().map { "\($0)=\"\(labels[$0] ?? "")\"" }.joined(separator: ",") + "}"
                }
                return unknown("\(series.count) series (\(names.joined(separator: ", "))\(series.count > 3 ? ", …" : "")): aggregate them to one value (sum, max, avg …)")
            }
            valueText = (series[0]["value"] as? [Any])?.last as? String
        case let other:
            return unknown("a \(other ?? "missing") result: the query must give one number (an instant vector of one series, or a scalar)")
        }
        guard let valueText, let value = Double(valueText) else { return unknown("the answer holds no number") }
        guard value.isFinite else { return unknown("the value is \(valueText)") }
        let passed = p.expect.holds(value)
        let seen = "\(query) = \(Comparison.format(value)) in \(Self.ms(latency))"
        return CheckOutcome(passed: passed, detail: passed ? seen + " (\(p.expect))" : seen + " — expected \(p.expect)", latency: latency)
    }

    // MARK: - helpers

    static func parseHTTPResponse(_ text: String) -> (Int, [String: String], String) {
        let parts = text.components(separatedBy: "\r\n\r\n")
        let head = parts.first ?? ""
        let body = parts.dropFirst().joined(separator: "\r\n\r\n")
        let lines = head.components(separatedBy: "\r\n")
        let status = lines.first.flatMap { $0.split(separator: " ").dropFirst().first.flatMap { Int($0) } } ?? 0
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return (status, headers, body)
    }

    /// `host:port`, `[v6]:port`.
    static func hostPort(_ text: String, defaultPort: Int? = nil) throws -> (String, Int) {
        var host = text, portText: Substring?
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            portText = rest.hasPrefix(":") ? rest.dropFirst() : nil
        } else if let colon = text.lastIndex(of: ":"), text.filter({ $0 == ":" }).count == 1 {
            host = String(text[..<colon])
            portText = text[text.index(after: colon)...]
        }
        if let portText {
            guard let port = Int(portText), (1...65535).contains(port) else { throw CheckFailure("'\(text)': '\(portText)' is not a port") }
            return (host, port)
        }
        guard let defaultPort else { throw CheckFailure("'\(text)' has no port: write host:port") }
        return (host, defaultPort)
    }

    static func isIPAddress(_ s: String) -> Bool { DNSMessage.ipv4(s) != nil || s.contains(":") }

    static func ms(_ d: Duration) -> String {
        let ms = DurationText.seconds(d) * 1000
        return ms < 10 ? String(format: "%.1f ms", ms) : "\(Int(ms.rounded())) ms"
    }

    /// Whether an error means the service did not answer (`failed`: refused, timed out, closed,
    /// a TLS handshake that failed) or that no probe could be made (`error`).
    static func status(of error: any Error) -> CheckOutcome.Status {
        switch error {
        case let e as CheckFailure: return e.status
        case is TransportError, is Diagnostic: return .error
        case let e as HTTPClientError:
            switch e {
            case .deadlineExceeded, .readTimeout, .connectTimeout, .remoteConnectionClosed: return .failed
            default: return .error
            }
        case let e as NIOConnectionError:
            // No address at all: the name did not resolve; no probe was made.
            guard let first = e.connectionErrors.first else { return .error }
            return status(of: first.error)
        case let e as IOError:
            return [ECONNREFUSED, ETIMEDOUT, ECONNRESET, EHOSTUNREACH, ENETUNREACH, EPIPE].contains(e.errnoCode) ? .failed : .error
        case let e as ChannelError:
            if case .connectTimeout = e { return .failed }
            return .error
        case is NIOSSLError, is BoringSSLError: return .failed
        default: return .error
        }
    }

    /// Errors of the libraries underneath, in words (never a type name).
    static func describe(_ error: any Error) -> String {
        switch error {
        case let e as CheckFailure: return e.message
        case let e as TransportError: return e.description
        case let e as Diagnostic: return e.message
        case let e as HTTPClientError:
            switch e {
            case .deadlineExceeded, .readTimeout, .connectTimeout: return "no answer before the check's timeout"
            case .invalidURL: return "not a valid URL"
            case .remoteConnectionClosed: return "the server closed the connection"
            default: return "HTTP request failed: \(e)"
            }
        case let e as NIOConnectionError:
            if let first = e.connectionErrors.first { return describe(first.error) }
            return "cannot connect: \(e.host):\(e.port)"
        case let e as IOError: return String(cString: strerror(e.errnoCode)).lowercased()
        case is ChannelError: return "no connection before the check's timeout"
        case let e as NIOSSLError: return "TLS: \(e)"
        case let e as BoringSSLError: return "TLS: \(e)"
        default: return String(describing: error)
        }
    }
}

struct CheckFailure: Error, CustomStringConvertible {
    var message: String
    /// `failed` when this is an answer (a DNS server that does not answer, NXDOMAIN), `error` when no probe could be made.
    var status: CheckOutcome.Status
    init(_ message: String, status: CheckOutcome.Status = .error) { self.message = message; self.status = status }
    var description: String { message }
}

/// Completes when the TLS handshake is done (or fails with the handshake's error).
final class HandshakeWaiter: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = NIOAny
    private var promise: EventLoopPromise<Void>?
    private var result: Result<Void, any Error>?

    func wait(on loop: any EventLoop, timeout: Duration) async throws {
        let future: EventLoopFuture<Void> = try await loop.submit {
            if let r = self.result { return loop.makeCompletedFuture(r) }
            let p = loop.makePromise(of: Void.self)
            self.promise = p
            loop.scheduleTask(in: .nanoseconds(Int64(DurationText.seconds(timeout) * 1e9))) { p.fail(CheckFailure("TLS handshake timed out")) }
            return p.futureResult
        }.get()
        try await future.get()
    }

    private func finish(_ r: Result<Void, any Error>) {
        if result == nil { result = r }
        promise?.completeWith(r)
        promise = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? TLSUserEvent, case .handshakeCompleted = e { finish(.success(())) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failure(error))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failure(CheckFailure("the server closed the connection during the TLS handshake")))
        context.fireChannelInactive()
    }
}
