/// Why a host could not be reached or a command could not be run to its end: the transport's
/// error kinds, which the journal records as they are (`host_unreachable`, `command_finished`).
public enum TransportFailureKind: String, Sendable, Equatable, Codable, CaseIterable {
    case connectionRefused, nameResolution, connectTimeout, handshake, hostKeyUnknown, hostKeyChanged
    case authentication, channel, disconnected, timeout, cancelled, local
    /// The connection broke after the command was sent: it may have run (outcome unknown).
    case connectionLost
    /// The host stopped answering after the command was sent and no kill could be delivered.
    case unresponsive
}
