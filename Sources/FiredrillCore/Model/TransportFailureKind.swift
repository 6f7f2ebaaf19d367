/// Why a host could not be reached or a command could not be run to its end: the transport's
/// error kinds, which the journal records as they are (`host_unreachable`, `command_finished`).
public enum TransportFailureKind: String, Sendable, Equatable, Codable, CaseIterable {
    case connectionRefused, nameResolution, connectTimeout, handshake, hostKeyUnknown, hostKeyChanged
    case authentication, channel, disconnected, timeout, cancelled, local
    /// The connection broke after the command was sent: it may have run (outcome unknown).
    case connectionLost
    /// The host stopped answering after the command was sent and no kill could be delivered.
    case unresponsive
    /// The host is reached in a way Firedrill cannot (yet) take: a jump host, a proxy command.
    case unsupported
    /// sudo did not run the command (a password needed or refused, no rights, requiretty).
    case become
}

extension TransportFailureKind {
    /// The kind in words, without the host's particulars (its address, port, name): what many
    /// hosts failing the same way have in common.
    public var words: String {
        switch self {
        case .connectionRefused: return "connection refused (no SSH server listens)"
        case .nameResolution: return "the host name does not resolve"
        case .connectTimeout: return "no answer to the connection in time"
        case .handshake: return "the SSH handshake failed"
        case .hostKeyUnknown: return "the host key is not known"
        case .hostKeyChanged: return "the host key CHANGED"
        case .authentication: return "authentication failed"
        case .channel: return "no session could be opened"
        case .disconnected: return "the connection was closed"
        case .timeout: return "timed out"
        case .cancelled: return "interrupted"
        case .local: return "could not run on this machine"
        case .connectionLost: return "the connection was lost"
        case .unresponsive: return "the host stopped answering"
        case .unsupported: return "reached in a way Firedrill does not support"
        case .become: return "could not become the step's user (sudo refused)"
        }
    }
}
