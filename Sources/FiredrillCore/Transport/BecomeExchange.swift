import Foundation

/// The conversation with sudo before a command starts: sudo runs the wrapped command
/// (`Become.wrap`), prints its prompt — unique to this command — when it wants a password, and
/// the password is written to its input once. What sudo prints before the command's first line
/// (`FIREDRILL-PGID=`) is sudo's, not the command's: a second prompt is a refused password, and
/// sudo ending without starting the command says why in that text.
///
/// Pure (bytes in, decisions out): the transports feed it what they read.
struct BecomeExchange {
    /// Nil: no sudo, only the command's first line to find.
    let become: Become?
    let password: Secret?
    let prompt: [UInt8]
    private(set) var answered = false
    /// What sudo said before the command started (the prompts taken out).
    private(set) var preamble: [UInt8] = []

    /// Past this much text without the command starting, the text is the command's after all.
    static let limit = 16 * 1024

    init(become: Become?, password: Secret?, nonce: String = RemoteProcess.newTag()) {
        self.become = become
        self.password = password
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
        if become != nil, let r = Self.find(prompt, in: head) {
            preamble += head[..<r.lowerBound]
            head.removeSubrange(..<r.upperBound)
            if answered { return .refused(.wrongPassword) }
            guard let password else { return .refused(.passwordRequired) }
            answered = true
            return .answer(Array(password.reveal().utf8) + [10])
        }
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
        if head.count > Self.limit {
            preamble += head
            head = []
            return .started
        }
        return .waiting
    }

    /// Why sudo ended without starting the command, from all it said.
    func failure(said rest: [UInt8]) -> BecomeFailure {
        let text = String(decoding: preamble + rest, as: UTF8.self)
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, answered { return .wrongPassword }
        return BecomeFailure.classify(text)
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
