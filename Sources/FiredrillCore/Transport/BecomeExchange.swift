import Foundation

/// The conversation with sudo or su before a command starts: sudo or su runs the wrapped command
/// (`Become.wrap`), prints its prompt when it wants a password, and the password is written to
/// its input once. What it prints before the command's first line (`FIREDRILL-PGID=`) is its
/// own, not the command's: a second prompt is a refused password, and sudo or su ending without
/// starting the command says why in that text.
///
/// sudo's prompt is unique to the command. su's cannot be chosen: it is PAM's (`Password: `, or
/// its translation), recognised as a line that ends in a colon and then *waits* (nothing more
/// arrives for `suQuiet`: a read that merely stopped at a colon is not a prompt), before the
/// command has started — nothing else runs then but su and the login's own start-up. su run by
/// root asks nothing, so a root login never answers (a target's start-up file that asks would
/// get the password).
///
/// Pure (bytes in, decisions out): the transports feed it what they read.
struct BecomeExchange {
    /// Nil: no sudo, only the command's first line to find.
    let become: Become?
    let password: Secret?
    let prompt: [UInt8]
    /// The login user is root: su asks no password, so nothing is ever answered.
    let loginIsRoot: Bool
    private(set) var answered = false
    /// What sudo said before the command started (the prompts taken out).
    private(set) var preamble: [UInt8] = []

    /// Past this much text without the command starting, the text is the command's after all.
    static let limit = 16 * 1024

    /// How long su's output must stay quiet after a line ending in a colon for it to be su's prompt.
    static let suQuiet: Duration = .milliseconds(100)

    init(become: Become?, password: Secret?, nonce: String = RemoteProcess.newTag(), loginIsRoot: Bool = false) {
        self.become = become
        self.password = password
        self.loginIsRoot = loginIsRoot
        self.prompt = Array(Become.prompt(nonce: nonce).utf8)
    }

    func wrap(_ command: String) -> String {
        become.map { $0.wrap(command, prompt: String(decoding: prompt, as: UTF8.self)) } ?? command
    }

    enum Step: Equatable {
        /// More output is needed.
        case waiting
        /// Write these bytes (the password and a newline) to the command's input.
        case answer([UInt8])
        /// sudo will not run the command.
        case refused(BecomeFailure)
        /// The command started: `head` now begins with its first line.
        case started
    }

    /// Reads what arrived so far on standard error (`head`, consumed as it is understood).
    mutating func read(_ head: inout [UInt8]) -> Step {
        if become?.method == .sudo, let r = Self.find(prompt, in: head) { return answer(prompt: r, in: &head) }
        let marker = Array(RemoteCommand.pgidMarker.utf8)
        var start = 0
        while let r = Self.find(marker, in: head, from: start) {
            if r.lowerBound == 0 || head[r.lowerBound - 1] == 10 {
                preamble += head[..<r.lowerBound]
                head.removeSubrange(..<r.lowerBound)
                return .started
            }
            start = r.upperBound
        }
        // su's prompt is answered by `settle`, once the output has stayed quiet.
        if head.count > Self.limit {
            preamble += head
            head = []
            return .started
        }
        return .waiting
    }

    /// Called when nothing more arrived for `suQuiet` while the command has not started: su's
    /// prompt, if `head` ends with one, is answered. Looked for only before the command's first
    /// line: after it, a line ending in a colon is the command's and never gets the password.
    mutating func settle(_ head: inout [UInt8]) -> Step {
        guard become?.method == .su, !loginIsRoot, let r = Self.suPrompt(in: head) else { return .waiting }
        return answer(prompt: r, in: &head)
    }

    /// The prompt at `r` is taken out of `head`; the password is the answer, once.
    private mutating func answer(prompt r: Range<Int>, in head: inout [UInt8]) -> Step {
        preamble += head[..<r.lowerBound]
        head.removeSubrange(..<r.upperBound)
        if answered { return .refused(.wrongPassword) }
        guard let password else { return .refused(.passwordRequired) }
        answered = true
        return .answer(Array(password.reveal().utf8) + [10])
    }

    /// Why sudo or su ended without starting the command, from all it said (and, for su, what
    /// the target's shell printed on standard output: nologin says why there).
    func failure(said rest: [UInt8], stdout: [UInt8] = []) -> BecomeFailure {
        let out = String(decoding: stdout, as: UTF8.self)
        if become?.method == .su, out.contains("currently not available") || out.lowercased().contains("nologin") {
            return .noShell
        }
        let text = String(decoding: preamble + rest, as: UTF8.self)
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, answered { return .wrongPassword }
        return BecomeFailure.classify(text, method: become?.method ?? .sudo)
    }

    /// su's prompt at the end of `head`: the last line, not ended, ending in a colon (ASCII or
    /// full width) and maybe spaces, with a letter in it, not su's own complaint (`su: …`).
    static func suPrompt(in head: [UInt8]) -> Range<Int>? {
        let start = (head.lastIndex(of: 10) ?? -1) + 1
        let line = String(decoding: head[start...], as: UTF8.self)
        guard !line.isEmpty, line.utf8.count <= 200 else { return nil }
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasSuffix(":") || trimmed.hasSuffix("："), trimmed.contains(where: \.isLetter),
              !trimmed.lowercased().hasPrefix("su:"), !trimmed.hasPrefix(RemoteCommand.pgidMarker) else { return nil }
        return start..<head.count
    }

    static func find(_ needle: [UInt8], in hay: [UInt8], from: Int = 0) -> Range<Int>? {
        guard needle.count > 0, hay.count - from >= needle.count else { return nil }
        var i = from
        while i <= hay.count - needle.count {
            if hay[i] == needle[0] && hay[i..<(i + needle.count)].elementsEqual(needle) { return i..<(i + needle.count) }
            i += 1
        }
        return nil
    }
}
