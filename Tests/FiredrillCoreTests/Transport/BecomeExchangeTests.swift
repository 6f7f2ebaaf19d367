import Foundation
import Testing
@testable import FiredrillCore

/// The conversation with sudo, byte by byte as it arrives: the prompt answered once, a second
/// prompt a refused password, sudo's own words told apart from the command's output.
@Suite struct BecomeExchangeTests {
    func exchange(password: String? = "pw") -> BecomeExchange {
        BecomeExchange(become: Become(), password: password.map(Secret.init), nonce: "n1")
    }

    func feed(_ e: inout BecomeExchange, _ head: inout [UInt8], _ text: String) -> BecomeExchange.Step {
        head += Array(text.utf8)
        return e.read(&head)
    }

    @Test func thePromptIsAnsweredOnceEvenWhenItArrivesInPieces() {
        var e = exchange()
        var head: [UInt8] = []
        #expect(feed(&e, &head, "[firedrill-bec") == .waiting)
        #expect(feed(&e, &head, "ome-n1] password: ") == .answer(Array("pw\n".utf8)))
        #expect(head.isEmpty)
        #expect(feed(&e, &head, "FIREDRILL-PGID=4242\nout") == .started)
        #expect(String(decoding: head, as: UTF8.self) == "FIREDRILL-PGID=4242\nout")
    }

    @Test func aSecondPromptIsARefusedPassword() {
        var e = exchange()
        var head: [UInt8] = []
        _ = feed(&e, &head, "[firedrill-become-n1] password: ")
        #expect(feed(&e, &head, "Sorry, try again.\n[firedrill-become-n1] password: ") == .refused(.wrongPassword))
    }

    @Test func aPromptWithoutAPasswordIsRefusedAtOnce() {
        var e = exchange(password: nil)
        var head: [UInt8] = []
        #expect(feed(&e, &head, "[firedrill-become-n1] password: ") == .refused(.passwordRequired))
    }

    @Test func whatSudoSaysBeforeTheCommandIsKeptApart() {
        var e = exchange()
        var head: [UInt8] = []
        #expect(feed(&e, &head, "sudo: unable to resolve host db1\n") == .waiting)
        #expect(feed(&e, &head, "FIREDRILL-PGID=7\n") == .started)
        #expect(String(decoding: e.preamble, as: UTF8.self) == "sudo: unable to resolve host db1\n")
    }

    /// A marker that is not at the start of a line is the command's text, not ours.
    @Test func theMarkerCountsOnlyAtTheStartOfALine() {
        var e = BecomeExchange(become: nil, password: nil)
        var head: [UInt8] = []
        #expect(feed(&e, &head, "motd says FIREDRILL-PGID=1\n") == .waiting)
        #expect(feed(&e, &head, "FIREDRILL-PGID=99\n") == .started)
        #expect(head.starts(with: Array("FIREDRILL-PGID=99".utf8)))
    }

    @Test func withoutBecomeAPromptLookalikeIsJustOutput() {
        var e = BecomeExchange(become: nil, password: Secret("pw"), nonce: "n1")
        var head: [UInt8] = []
        #expect(feed(&e, &head, "[firedrill-become-n1] password: ") == .waiting)
    }

    @Test(arguments: [
        ("sudo: a password is required\n", BecomeFailure.passwordRequired),
        ("sudo: no password was provided\nsudo: 1 incorrect password attempt\n", .passwordRequired),
        ("sorry, you must have a tty to run sudo\n", .requiresTTY),
        ("fd-guest is not in the sudoers file.\n", .notAllowed("fd-guest is not in the sudoers file.")),
        ("Sorry, user ops is not allowed to execute '/bin/sh -c true' as postgres on db1.\n", .notAllowed("Sorry, user ops is not allowed to execute '/bin/sh -c true' as postgres on db1.")),
        ("sh: 1: sudo: not found\n", .notInstalled),
        ("sudo: something new\n", .other("sudo: something new")),
    ])
    func sudosWordsAreClassified(_ text: String, _ expected: BecomeFailure) {
        #expect(BecomeFailure.classify(text) == expected)
    }

    @Test func eachFailureIsOneLineNamingTheHostAndAWayOut() {
        for f in [BecomeFailure.passwordRequired, .wrongPassword, .notAllowed("x"), .requiresTTY, .notInstalled, .other("y")] {
            let (message, hint) = f.explain(login: "deploy", host: "db2", become: Become())
            #expect(message.contains("db2") && !message.contains("\n") && !hint.isEmpty, "\(message)")
        }
        #expect(BecomeFailure.passwordRequired.explain(login: "deploy", host: "db2", become: Become()).message == "deploy cannot sudo on db2: a password is required")
    }
}
