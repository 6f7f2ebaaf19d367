import Testing
@testable import FiredrillCore

/// What reaches a terminal: control characters shown, never acted on; Firedrill's own styling
/// kept, and impossible to forge.
@Suite struct TerminalTextTests {
    @Test(arguments: [
        ("clear\u{1B}[2J", "clear\\x1b[2J"),
        ("title\u{1B}]0;pwned\u{07}", "title\\x1b]0;pwned\\x07"),
        ("green\u{1B}[32mALL GOOD", "green\\x1b[32mALL GOOD"),
        ("nul\u{0}", "nul\\x00"),
        ("bidi\u{202E}desrever", "bidi\\u202edesrever"),
        ("cr\roverwrite", "cr\\roverwrite"),
        ("c1\u{9B}2J", "c1\\x9b2J"),
        ("crlf\r\nline", "crlf\r\nline"),
        ("tab\tand\nline", "tab\tand\nline"),
        ("plain text, é€😀", "plain text, é€😀"),
    ])
    func controlsAreShownNeverActedOn(_ input: String, _ shown: String) {
        #expect(TerminalText.forTerminal(input) == shown)
    }

    @Test func firedrillsOwnStylingBecomesEscapeCodesAndAHostCannotForgeIt() {
        let style = TerminalStyle(enabled: true)
        let ours = TerminalText.forTerminal(style.green("ok"))
        #expect(ours == "\u{1B}[32mok\u{1B}[0m")
        // A host that prints the marker characters (without the nonce) gets them shown, not obeyed.
        let forged = TerminalText.forTerminal("\u{E000}\u{E001}[2Jgotcha " + style.red("x"))
        #expect(!forged.hasPrefix("\u{1B}") && forged.contains("\\ue000\\ue001[2Jgotcha") && forged.contains("\u{1B}[31mx"), "\(forged)")
        #expect(TerminalText.visibleCount(style.bold("abc") + "de") == 5)
    }

    @Test func oneLineFormReplacesLineBreaks() {
        #expect(TerminalText.safe("a\nb\tc\rd\u{1B}", keepLines: false) == "a b c d\\x1b")
    }
}
