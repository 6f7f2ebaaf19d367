import Foundation
import Testing
@testable import FiredrillCore

@Suite struct SecretTests {
    let at = SourceLocation(file: "/tmp/pb.yml", line: 7, column: 3)

    @Test func resolvesFromEnvironmentAndFile() throws {
        let env = SecretDeclaration(name: "token", source: .environment("TOK"), location: at)
        #expect(try env.resolve(playbookFile: "/tmp/pb.yml", environment: ["TOK": "abc123"]).get().reveal() == "abc123")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fd-secret-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "s3cret\n".write(toFile: path, atomically: true, encoding: .utf8)
        let file = SecretDeclaration(name: "pw", source: .file(path), location: at)
        #expect(try file.resolve(playbookFile: "/tmp/pb.yml", environment: [:]).get().reveal() == "s3cret", "the trailing newline is not part of it")
    }

    @Test func missingOrUnmaskableSecretsAreErrorsAtTheirDeclaration() {
        let env = SecretDeclaration(name: "token", source: .environment("TOK"), location: at)
        for (environment, needle) in [([String: String](), "TOK is not set"), (["TOK": "ab"], "shorter than 3 characters")] {
            guard case let .failure(d) = env.resolve(playbookFile: "/tmp/pb.yml", environment: environment) else {
                Issue.record("\(environment) should not resolve"); continue
            }
            #expect(d.message.contains(needle), "\(d.message)")
            #expect(d.location == at && d.hint != nil)
        }
        let file = SecretDeclaration(name: "pw", source: .file("/nonexistent/pw"), location: at)
        guard case let .failure(d) = file.resolve(playbookFile: "/tmp/pb.yml", environment: [:]) else { Issue.record("resolved"); return }
        #expect(d.message.contains("cannot read /nonexistent/pw"))
    }

    @Test func maskerHidesEveryOccurrenceLongestFirst() {
        let mask = SecretMasker(["a": Secret("hunter2"), "b": Secret("hunter2-extra")])
        #expect(mask("x=hunter2-extra y=hunter2") == "x=\(Secret.mask) y=\(Secret.mask)")
    }
}
