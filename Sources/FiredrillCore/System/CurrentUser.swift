import Foundation

/// Who runs Firedrill: `$USER` when set (what the operator logged in as, also under `sudo -E`),
/// else the account's name. Recorded as the operator, the lock holder, the annotator.
public enum CurrentUser {
    public static func name(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        environment["USER"].flatMap { $0.isEmpty ? nil : $0 } ?? NSUserName()
    }
}
