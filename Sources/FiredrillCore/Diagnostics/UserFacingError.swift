/// How `firedrill` ends: the one table of exit statuses (DESIGN.md), used by every command and by
/// `due --run` to rank its drills.
public enum ExitStatus: Int32, Sendable, CaseIterable, CustomStringConvertible {
    /// The drill passed (or the command did what it was asked).
    case passed = 0
    /// The drill failed and restore ran; or what was read is damaged.
    case failed = 1
    /// Bad input: a playbook, an option, a file that is not what it should be.
    case invalidInput = 2
    /// Nothing ran: the steady state, an unreachable host, another drill holding a lock.
    case preconditions = 3
    /// The journal could not be written: restore was attempted, the record is incomplete.
    case recordIncomplete = 4
    /// `run --busy-exit` (for `due --run`): another live drill holds the service or a host; skipped.
    case busy = 75
    case interrupted = 130

    public var description: String { String(rawValue) }

    /// How bad, for `due --run`'s worst result: interrupted, record incomplete, failed (a
    /// finding), preconditions, invalid input, busy (skipped), passed.
    public var severity: Int {
        switch self {
        case .passed: return 0
        case .busy: return 1
        case .invalidInput: return 2
        case .preconditions: return 3
        case .failed: return 4
        case .recordIncomplete: return 5
        case .interrupted: return 6
        }
    }

    /// The worse of two.
    public func worse(_ other: ExitStatus) -> ExitStatus { other.severity > severity ? other : self }

    /// A child's status as its number (an unknown number, or a signal's 128 + n, counts as failed).
    public init(code: Int32) { self = ExitStatus(rawValue: code) ?? .failed }
}

/// An error a person can act on: what is wrong, in their words, what to do about it, and how
/// the command ends. The core throws these; `firedrill` prints each once (`error:` and `hint:`
/// lines) and exits with its status. Never a type name, never a stack.
public protocol UserFacingError: Error, Sendable {
    var message: String { get }
    var hint: String? { get }
    var exitStatus: ExitStatus { get }
}

/// A user-facing error of a command, when no more specific type says it.
public struct CommandError: UserFacingError, CustomStringConvertible {
    public var message: String
    public var hint: String?
    public var exitStatus: ExitStatus

    public init(_ message: String, hint: String? = nil, exit: ExitStatus = .invalidInput) {
        self.message = message; self.hint = hint; self.exitStatus = exit
    }

    public var description: String { message }
}

extension Diagnostic: UserFacingError {
    public var exitStatus: ExitStatus { .invalidInput }
}

extension DiagnosticsError: UserFacingError {
    public var message: String { diagnostics.errors.first?.message ?? diagnostics.first?.message ?? "invalid input" }
    public var hint: String? { diagnostics.errors.first?.hint }
    public var exitStatus: ExitStatus { .invalidInput }
}
