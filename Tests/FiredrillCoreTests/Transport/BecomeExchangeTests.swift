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

    // su: PAM's prompt, which Firedrill cannot choose.

    func suExchange(password: String? = "pw", root: Bool = false) -> BecomeExchange {
        BecomeExchange(become: Become(user: "postgres", method: .su), password: password.map(Secret.init), nonce: "n1", loginIsRoot: root)
    }

    /// su's prompt is answered only once the output has stayed quiet (`settle`, called by the
    /// transport after `suQuiet`), never from a read that merely stopped at a colon.
    @Test(arguments: ["Password: ", "Passwort: ", "Mot de passe : ", "パスワード：", "Password:"])
    func suPromptIsAnsweredOnceInAnyLanguage(_ prompt: String) {
        var e = suExchange()
        var head: [UInt8] = []
        #expect(feed(&e, &head, String(prompt.prefix(3))) == .waiting)
        #expect(e.settle(&head) == .waiting, "no colon yet")
        #expect(feed(&e, &head, String(prompt.dropFirst(3))) == .waiting, "not answered on arrival")
        #expect(e.settle(&head) == .answer(Array("pw\n".utf8)))
        #expect(e.settle(&head) == .waiting, "answered once")
        #expect(feed(&e, &head, "FIREDRILL-PGID=9\n") == .started)
        #expect(e.preamble.isEmpty)
    }

    @Test func suWithoutAPasswordIsRefusedAtItsPrompt() {
        var e = suExchange(password: nil)
        var head: [UInt8] = []
        _ = feed(&e, &head, "Password: ")
        #expect(e.settle(&head) == .refused(.passwordRequired))
    }

    /// su's complaint ends in a colon too, and a command's own question after it started must
    /// never be answered with the password; su run by root asks nothing, so a root login
    /// answers nothing (a target's start-up file that asks would get the password).
    @Test func suOnlyAnswersBeforeTheCommandStartsAndNeverForRoot() {
        var e = suExchange()
        var head: [UInt8] = []
        #expect(feed(&e, &head, "su: ") == .waiting)
        #expect(e.settle(&head) == .waiting, "su's own complaint is not a prompt")
        #expect(feed(&e, &head, "warning: locale not set\n") == .waiting)
        #expect(feed(&e, &head, "FIREDRILL-PGID=9\nEnter the code:") == .started)
        var root = suExchange(root: true)
        var head2: [UInt8] = []
        #expect(feed(&root, &head2, "Token: ") == .waiting)
        #expect(root.settle(&head2) == .waiting, "a root login never answers")
        var done = suExchange()
        var head3: [UInt8] = []
        _ = feed(&done, &head3, "Password: ")
        _ = done.settle(&head3)
        #expect(done.failure(said: Array("su: Authentication failure\n".utf8)) == .wrongPassword)
        // nologin says so on standard output, after su accepted the password.
        #expect(done.failure(said: [], stdout: Array("This account is currently not available.\n".utf8)) == .noShell)
        #expect(BecomeFailure.noShell.explain(login: "guest", host: "db1", become: Become(user: "www", method: .su)).message
                    == "guest cannot su to www on db1: www's shell runs no command (nologin)")
    }

    @Test(arguments: [
        ("su: Authentication failure\n", BecomeFailure.wrongPassword),
        ("su: Permission denied\n", .notAllowed("su: Permission denied")),
        ("su: user pgsql does not exist or the user entry does not contain all the required fields\n",
         .notAllowed("su: user pgsql does not exist or the user entry does not contain all the required fields")),
        ("su: must be run from a terminal\n", .requiresTTY),
        ("sh: 1: su: not found\n", .notInstalled),
        ("This account is currently not available.\n", .other("This account is currently not available.")),
    ])
    func susWordsAreClassified(_ text: String, _ expected: BecomeFailure) {
        #expect(BecomeFailure.classify(text, method: .su) == expected)
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
        let su = Become(user: "postgres", method: .su)
        for f in [BecomeFailure.passwordRequired, .wrongPassword, .notAllowed("x"), .requiresTTY, .notInstalled, .noShell, .other("y")] {
            let (message, hint) = f.explain(login: "deploy", host: "db2", become: su)
            #expect(message.contains("db2") && message.contains("su") && !message.contains("sudo") && !hint.isEmpty, "\(message)")
        }
        #expect(BecomeFailure.wrongPassword.explain(login: "deploy", host: "db2", become: su).hint.contains("postgres's password"))
    }
}
