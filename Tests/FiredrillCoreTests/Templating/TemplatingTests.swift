import Testing
@testable import FiredrillCore

@Suite struct TemplatingTests {
    let at = SourceLocation(file: "t.yml", line: 3, column: 10)

    func render(_ text: String, _ values: [String: VarValue], secrets: Set<String> = [], mode: TemplateContext.Mode = .shell) -> Result<RenderedText, DiagnosticsError> {
        let (t, d) = Template.parse(text, at: at)
        #expect(d.isEmpty)
        return TemplateContext(values: values, secretNames: secrets).render(t, mode: mode)
    }

    @Test(arguments: [
        ("simple", "simple"), ("", "''"), ("two words", "'two words'"), ("it's", "'it'\"'\"'s'"),
        ("a;rm -rf /", "'a;rm -rf /'"), ("$(reboot)", "'$(reboot)'"), ("10.0.0.1:5432", "10.0.0.1:5432"),
    ])
    func shellQuoting(_ input: String, _ quoted: String) {
        #expect(ShellQuoting.quote(input) == quoted)
    }

    @Test func valuesAreQuotedInCommandsUnlessRaw() throws {
        let r = try render("echo {{ msg }} {{ msg | raw }}", ["msg": .string("a b")]).get()
        #expect(r.description == "echo 'a b' a b")
    }

    @Test func plainModeDoesNotQuote() throws {
        let r = try render("http://{{ host }}:{{ port }}/x", ["host": .string("db 1"), "port": .int(80)], mode: .plain).get()
        #expect(r.description == "http://db 1:80/x")
    }

    @Test func secretsAreMaskedAndRevealedOnlyOnRequest() throws {
        let r = try render("psql -c {{ secrets.pw }} {{ pw }}", [:], secrets: ["pw"]).get()
        #expect(r.description == "psql -c •••••• ••••••")
        #expect(!r.description.contains("hunter2"))
        #expect(try r.reveal(["pw": Secret("hunter 2")]) == "psql -c 'hunter 2' 'hunter 2'")
        #expect("\(Secret("hunter2"))" == Secret.mask)
        #expect(String(reflecting: Secret("hunter2")) == Secret.mask)
        #expect(try JSONOutput.encode(["s": Secret("hunter2")]).contains("hunter2") == false)
    }

    @Test func undefinedVariableIsAnErrorAtItsColumn() {
        guard case let .failure(e) = render("echo {{ vipp }}", ["vip": .string("x")]) else {
            Issue.record("expected a failure"); return
        }
        #expect(e.diagnostics[0].location == SourceLocation(file: "t.yml", line: 3, column: 15))
        #expect(e.diagnostics[0].hint?.contains("did you mean 'vip'") == true)
    }

    @Test func undeclaredSecret() {
        guard case let .failure(e) = render("{{ secrets.nope }}", [:]) else { Issue.record("expected a failure"); return }
        #expect(e.diagnostics[0].message == "secret 'nope' is used but not declared")
    }

    @Test func dottedLookupInMaps() throws {
        let r = try render("{{ db.port }}", ["db": .map(["port": .int(5432)])]).get()
        #expect(r.description == "5432")
    }

    @Test(arguments: ["{{ x | shout }}", "{{ 9x }}", "{{ unclosed"])
    func malformedPlaceholders(_ text: String) {
        let (_, d) = Template.parse(text, at: at)
        #expect(!d.isEmpty)
    }

    @Test(arguments: [
        ("90s", 90_000), ("5m", 300_000), ("1h30m", 5_400_000), ("500ms", 500), ("2d", 172_800_000), ("45", 45_000),
    ] as [(String, Int64)])
    func durations(_ text: String, _ ms: Int64) throws {
        let d = try #require(DurationText.parse(text))
        #expect(DurationText.milliseconds(d) == ms)
    }

    @Test(arguments: ["", "5 minutes", "m5", "1x", "-3s", "1.5h", "99999999999999999999d"])
    func badDurations(_ text: String) {
        #expect(DurationText.parse(text) == nil)
    }

    @Test(arguments: [(90_000, "1m30s"), (5_400_000, "1h30m"), (250, "250ms"), (1_500, "1.5s"), (0, "0s")] as [(Int64, String)])
    func durationFormatting(_ ms: Int64, _ text: String) {
        #expect(DurationText.format(.milliseconds(ms)) == text)
    }
}
