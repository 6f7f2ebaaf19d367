import Foundation
import Testing
@testable import FiredrillCore

/// Random, truncated and mutated YAML must only ever produce diagnostics: no crash,
/// no Swift type names, every error located.
@Suite struct LoaderFuzzTests {
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let seeds: [String] = ["ehr-db-failover", "web-tier-failover", "dns-failover", "downtime-procedures"].compactMap {
        try? String(contentsOfFile: "\(Fixtures.repoRoot)/Playbooks/\($0).yml", encoding: .utf8)
    }

    static let fragments = [":", "- ", "{", "}", "[", "]", "\t", "\"", "'", "{{", "}}", "&a", "*a", "!!int", "\n", "  ", "#", "|", ">",
                            "\u{0}", "é", "on:", "run:", "verify:", "-1", "99999999999999999999", "~", "null", "%YAML 1.1\n"]

    func mutate(_ text: String, _ rng: inout SplitMix) -> String {
        var chars = Array(text.unicodeScalars)
        switch Int.random(in: 0..<4, using: &rng) {
        case 0: // truncate
            chars = Array(chars.prefix(Int.random(in: 0...chars.count, using: &rng)))
        case 1: // insert fragments
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                let f = Self.fragments.randomElement(using: &rng)!
                chars.insert(contentsOf: f.unicodeScalars, at: Int.random(in: 0...chars.count, using: &rng))
            }
        case 2: // delete spans
            for _ in 0..<Int.random(in: 1...5, using: &rng) where !chars.isEmpty {
                let a = Int.random(in: 0..<chars.count, using: &rng)
                let b = min(chars.count, a + Int.random(in: 1...20, using: &rng))
                chars.removeSubrange(a..<b)
            }
        default: // random bytes
            chars = (0..<Int.random(in: 0...300, using: &rng)).map { _ in
                Unicode.Scalar(UInt8.random(in: 0...127, using: &rng))
            }
        }
        var s = String.UnicodeScalarView()
        s.append(contentsOf: chars)
        return String(s)
    }

    @Test func mutatedPlaybooksOnlyYieldDiagnostics() {
        #expect(Self.seeds.count == 4)
        var rng = SplitMix(state: 20261124)
        let inventory = InventoryLoader().load(paths: ["\(Fixtures.repoRoot)/Inventory/hospital.yml"]).inventory
        for i in 0..<1500 {
            let text = mutate(Self.seeds[i % Self.seeds.count], &rng)
            let loaded = PlaybookLoader().load(text: text, file: "fuzz.yml")
            var all = loaded.diagnostics
            if let pb = loaded.playbook {
                all += Validator(playbook: pb, inventory: inventory, environment: [:]).validateAndPlan().diagnostics
            }
            for d in all {
                #expect(!d.message.contains("Optional("), "\(d.message)")
                #expect(!d.message.contains("Swift."), "\(d.message)")
                #expect(!d.message.contains("Error("), "\(d.message)")
            }
            for d in all where d.isError {
                #expect(d.location != nil, "unlocated error: \(d.message)")
            }
        }
    }

    @Test func mutatedInventoriesOnlyYieldDiagnostics() throws {
        var rng = SplitMix(state: 7)
        let yaml = try String(contentsOfFile: "\(Fixtures.repoRoot)/Inventory/hospital.yml", encoding: .utf8)
        let ini = try String(contentsOfFile: "\(Fixtures.repoRoot)/Inventory/hospital.ini", encoding: .utf8)
        for i in 0..<800 {
            let isINI = i % 2 == 0
            let text = mutate(isINI ? ini : yaml, &rng)
            let r = InventoryLoader().load(text: text, file: isINI ? "fuzz.ini" : "fuzz.yml")
            for d in r.diagnostics { #expect(!d.message.contains("Optional(")) }
            _ = try? InventoryPattern(r.inventory).select("all:!db:&app")
        }
    }

    @Test func aliasBombIsBounded() {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1...12 { text += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        text += "name: X\nservice: y\nsteps: []\n"
        let loaded = PlaybookLoader().load(text: text, file: "bomb.yml")
        #expect(loaded.diagnostics.first(containing: "too many nodes") != nil)
    }
}

/// Input meant to hurt: text that expands, names that drive a terminal, templates Ansible would
/// evaluate and a shell would not.
@Suite struct HostileInputTests {
    /// A 2 MB anchored scalar used by 300 steps: refused at once, by its size, not after minutes.
    @Test func anAnchoredTextUsedEverywhereIsRefusedByItsExpandedSize() {
        var text = "name: X\nservice: y\ncriticality: low\nvars: { big: &big \"" + String(repeating: "x", count: 2 << 20) + "\" }\nsteps:\n"
        for i in 0..<300 { text += "  - { name: s\(i), on: all, run: *big }\n" }
        let loaded = PlaybookLoader().load(text: text, file: "big.yml")
        let d = loaded.diagnostics.first(containing: "MB of text")
        #expect(d != nil, "\(loaded.diagnostics.map(\.message))")
        #expect(loaded.playbook == nil)
    }

    @Test(arguments: ["Stop\u{1B}[2J primary", "Stop\nprimary", "Stop \u{202E}yramirp", "bell\u{07}", "rlm\u{200F}", "alm\u{061C}",
                      "line\u{2028}separator", "bom\u{FEFF}", "zero\u{200B}width", "tag\u{E0041}"])
    func aNameWithControlCharactersIsRefusedWhereItIs(_ name: String) {
        let escaped = name.replacingOccurrences(of: "\n", with: "\\n").unicodeScalars.map {
            $0.value < 0x20 || $0.value >= 0x600 ? String(format: $0.value > 0xFFFF ? "\\U%08X" : "\\u%04X", $0.value) : String($0)
        }.joined()
        let d = diagnose(playbook(steps: """
          - name: "\(escaped)"
            on: db_primary
            run: systemctl stop postgresql
        """))
        let problem = d.first(containing: "control character")
        #expect(problem != nil && problem?.location?.line != nil, "\(d.map(\.message))")
    }

    @Test func aNameOfTenMegabytesIsRefused() {
        let d = diagnose(playbook(steps: """
          - name: "\(String(repeating: "s", count: 10_000))"
            on: db_primary
            run: systemctl stop postgresql
        """))
        #expect(d.first(containing: "characters long (at most 200)") != nil, "\(d.map(\.message))")
    }

    @Test(arguments: ["{% if x %}rm -rf /{% endif %}", "echo {# a comment #}"])
    func jinjaStatementsAndCommentsAreRefused(_ command: String) {
        let d = diagnose(playbook(steps: """
          - name: Templated
            on: db_primary
            run: "\(command)"
        """))
        #expect(d.first(containing: "is not supported in templates") != nil, "\(d.map(\.message))")
    }

    /// `http: "{{ u }}"` with `-e u=file:///etc/shadow`: a health check must not read files.
    @Test(arguments: ["file:///etc/shadow", "gopher://127.0.0.1:25/", "dict://x"])
    func anHTTPCheckThatRendersToAnotherSchemeIsRefused(_ url: String) {
        let d = diagnose("""
        name: T
        service: s
        criticality: low
        checks:
          web: { http: "{{ u }}" }
        steps:
          - name: One
            on: db_primary
            run: "true"
            verify: { up: [web], within: 30s }
        """, extraVars: ["u": .string(url)])
        #expect(d.first(containing: "not http:// or https://") != nil, "\(d.map(\.message))")
    }
}
