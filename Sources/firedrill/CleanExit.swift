import Dispatch
import Synchronization
import Foundation
import FiredrillCore

/// For commands that write files but run no drill (`approve`, `evidence`): SIGINT, SIGTERM or
/// SIGHUP end them at once and cleanly. The tools they started are killed with their process
/// groups (an `ssh-keygen` waiting for a security key would otherwise outlive us), their scratch
/// files are removed, and the exit status is 128 + the signal, with one line saying so.
enum CleanExit {
    private static let state = Mutex<(sources: [DispatchSourceSignal], paths: [String])>(([], []))

    /// From now on a signal removes `paths` (files or folders) before exiting.
    static func install(removing paths: [String]) {
        state.withLock { s in
            s.paths = paths
            guard s.sources.isEmpty else { return }
            for sig in [SIGINT, SIGTERM, SIGHUP] {
                signal(sig, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                source.setEventHandler { CleanExit.exit(on: sig) }
                source.resume()
                s.sources.append(source)
            }
        }
    }

    private static func exit(on sig: Int32) -> Never {
        ChildProcess.killLive()
        for path in state.withLock({ $0.paths }) { try? FileManager.default.removeItem(atPath: path) }
        let line = "\ninterrupted (\(sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "SIGHUP")): nothing was written\n"
        _ = line.withCString { Glibc.write(STDERR_FILENO, $0, strlen($0)) }
        _exit(128 + sig)
    }
}
