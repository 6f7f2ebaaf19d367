import Foundation
import NIOCore
import Testing
@testable import FiredrillCore

/// "Could not check" is not "down": which errors mean the service did not answer (`failed`)
/// and which mean no probe was made (`error`), and what each expectation accepts.
@Suite struct CheckOutcomeTests {
    @Test func notAnsweringIsFailedAndNoProbeIsError() {
        #expect(CheckRunner.status(of: IOError(errnoCode: ECONNREFUSED, reason: "connect")) == .failed)
        #expect(CheckRunner.status(of: IOError(errnoCode: ETIMEDOUT, reason: "connect")) == .failed)
        #expect(CheckRunner.status(of: ChannelError.connectTimeout(.seconds(2))) == .failed)
        #expect(CheckRunner.status(of: IOError(errnoCode: EACCES, reason: "socket")) == .error)
        #expect(CheckRunner.status(of: TransportError(.connectTimeout, host: "db1", endpoint: "10.0.0.1:22", "no answer")) == .error,
                "the on: host being unreachable says nothing about the service")
        #expect(CheckRunner.status(of: CheckFailure("'x' has no port: write host:port")) == .error)
        #expect(CheckRunner.status(of: CheckFailure("NXDOMAIN from 127.0.0.1:53", status: .failed)) == .failed)
    }

    @Test(arguments: [
        (CheckOutcome.Status.passed, Expect.up, true),
        (.failed, .up, false),
        (.error, .up, false),
        (.passed, .down, false),
        (.failed, .down, true),
        (.error, .down, false),      // could not check is never "down as expected"
        (.skipped, .down, false),
    ])
    func eachExpectationAcceptsOnlyItsOutcome(_ status: CheckOutcome.Status, _ expect: Expect, _ met: Bool) {
        #expect(DrillRunner<ContinuousClock>.meets(CheckOutcome(status, detail: "", latency: .zero), expect) == met)
    }

    @Test func aCommandThatCannotRunIsAnErrorAndOneThatFailsIsFailed() async throws {
        let local = LocalTransport(name: "localhost", killGrace: .seconds(1))
        let runner = CheckRunner { _ in local }
        let check = CommandCheck(run: Template(literal: "x", at: SourceLocation(file: "t", line: 1, column: 1)), expectExit: 0, outputContains: nil)
        let missing = try await runner.command(check, "no-such-tool-for-firedrill --probe", on: local, timeout: .seconds(5))
        #expect(missing.status == .error && missing.detail.contains("could not run"))
        let failing = try await runner.command(check, "exit 3", on: local, timeout: .seconds(5))
        #expect(failing.status == .failed)
    }
}
