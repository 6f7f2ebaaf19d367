import Testing
@testable import FiredrillCore

/// Quoting by bytes gives what `shlex.quote` gives, and its length is known without building it.
@Suite struct ShellQuotingTests {
    @Test(arguments: [
        ("", "''"), ("db1", "db1"), ("a-b_c.d/e:f,g@h%i+j=k", "a-b_c.d/e:f,g@h%i+j=k"),
        ("two words", "'two words'"), ("it's", "'it'\"'\"'s'"), ("''", "''\"'\"''\"'\"''"),
        ("$HOME", "'$HOME'"), ("é", "'é'"), ("a\nb", "'a\nb'"), ("rm -rf /; echo 'x'", "'rm -rf /; echo '\"'\"'x'\"'\"''"),
    ])
    func quotesAsShlexDoes(_ value: String, _ expected: String) {
        #expect(ShellQuoting.quote(value) == expected)
        #expect(ShellQuoting.quotedLength(value) == expected.utf8.count)
    }

    @Test(arguments: [("", true), ("   ", true), ("''", true), (" \t'' \n", true), ("' '", false), ("'''", false), ("x", false), ("'x'", false)])
    func anEmptyCommandIsBlankOrAnEmptyQuote(_ text: String, _ empty: Bool) {
        #expect(Planner.isEmptyCommand(text) == empty)
    }
}
