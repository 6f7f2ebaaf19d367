import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where runs live: `ROOT/<run-id>/journal.jsonl` (+ `plan.json`, `journal.jsonl.head`).
/// ROOT is `--runs-dir`, else `$FIREDRILL_RUNS`, else `~/.local/share/firedrill/runs`.
public struct RunStore: Sendable {
    public var root: String

    public init(root: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) {
        var path: String
        if let root { path = (root as NSString).expandingTildeInPath }
        else if let env = environment["FIREDRILL_RUNS"], !env.isEmpty { path = (env as NSString).expandingTildeInPath }
        else {
            let base = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (FileManager.default.homeDirectoryForCurrentUser.path + "/.local/share")
            path = base + "/firedrill/runs"
        }
        // Absolute, so a lock or a hint that names it means the same folder from any directory.
        if !path.hasPrefix("/") { path = FileManager.default.currentDirectoryPath + "/" + path }
        self.root = normalizePath(path)
    }

    public func directory(_ runID: String) -> String { "\(root)/\(runID)" }

    /// Why `folder` cannot hold runs (creating it and its parents when `create`), in words; nil
    /// when it can.
    public static func folderProblem(_ folder: String, create: Bool = true) -> String? {
        folderIssue(folder, create: create)?.words
    }

    /// Why a folder cannot hold runs: the path names something else (bad input), or the disk or
    /// its permissions refuse the writes (a read-only mount, a full disk: the record's problem).
    public struct FolderIssue: Sendable, Equatable {
        public enum Kind: Sendable, Equatable { case notAFolder, cannotWrite }
        public var kind: Kind
        public var words: String
    }

    public static func folderIssue(_ folder: String, create: Bool = true) -> FolderIssue? {
        var path = folder.hasPrefix("/") ? "" : "."
        for part in folder.split(separator: "/") {
            path += "/" + part
            var st = stat()
            if stat(path, &st) == 0 {
                if st.st_mode & S_IFMT != S_IFDIR { return FolderIssue(kind: .notAFolder, words: "cannot use \(folder): \(path) is a file, not a folder") }
                continue
            }
            let e = errno
            if e == ELOOP { return FolderIssue(kind: .notAFolder, words: "cannot use \(folder): \(path) is a symbolic link loop") }
            if e != ENOENT { return FolderIssue(kind: .cannotWrite, words: "cannot use \(folder): \(path): \(String(cString: strerror(e)))") }
            if !create { return FolderIssue(kind: .notAFolder, words: "\(folder) does not exist") }
            if mkdir(path, 0o755) != 0 && errno != EEXIST {
                return FolderIssue(kind: .cannotWrite, words: "cannot create \(path): \(String(cString: strerror(errno)))")
            }
        }
        if access(folder, W_OK | X_OK) != 0 {
            return FolderIssue(kind: .cannotWrite, words: "cannot write in \(folder): \(String(cString: strerror(errno)))")
        }
        return nil
    }

    /// Writes a file of a run (creating its folder), durably; nil on success, else why not, in words.
    public static func write(_ text: String, to path: String) -> String? {
        if let problem = folderProblem((path as NSString).deletingLastPathComponent) { return problem }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return "cannot create \(path): \(String(cString: strerror(errno)))" }
        defer { close(fd) }
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return "cannot write \(path): \(String(cString: strerror(errno)))" }
            bytes = bytes.dropFirst(n)
        }
        guard fsync(fd) == 0 else { return "cannot write \(path): \(String(cString: strerror(errno)))" }
        return nil
    }

    /// Replaces `path` with `text` whole or not at all (a temporary file beside it, synced, then
    /// renamed over it), readable by others as reports are meant to be; nil on success, else why not.
    public static func replace(_ path: String, with text: String) -> String? {
        let folder = (path as NSString).deletingLastPathComponent
        if let problem = folderProblem(folder.isEmpty ? "." : folder) { return problem }
        let temp = (folder.isEmpty ? "." : folder) + "/." + (path as NSString).lastPathComponent + ".tmp-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { return String(cString: strerror(errno)) }
        var bytes = Array(text.utf8)[...]
        var failure: String?
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { failure = String(cString: strerror(errno)); break }
            bytes = bytes.dropFirst(n)
        }
        if failure == nil, fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        close(fd)
        if failure == nil, rename(temp, path) != 0 { failure = String(cString: strerror(errno)) }
        if let failure { unlink(temp); return failure }
        return nil
    }

    public func journalPath(_ runID: String) -> String { "\(directory(runID))/journal.jsonl" }

    /// `20261124-193012-ehr-db-3f9a`: sortable by time, says which service, unique.
    public static func newRunID(service: String, date: Date = Date()) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd-HHmmss"
        let slug = service.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }
        return "\(f.string(from: date))-\(String(slug).prefix(40))-\(String(format: "%04x", UInt16.random(in: 0...UInt16.max)))"
    }

    public struct RunSummary: Sendable, Encodable {
        public var id: String
        public var playbook: String?
        public var started: String?
        /// `passed`, `failed`, `interrupted`, `preconditions`, `incomplete`, `unfinished` (no run_ended:
        /// resume it), or `unknown` (the journal is damaged before it says).
        public var status: String
        public var events: Int
        public var intact: Bool
    }

    /// Run IDs, newest first (IDs start with their UTC start time).
    public func ids() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .filter { FileManager.default.fileExists(atPath: journalPath($0)) }
            .sorted(by: >)
    }

    /// Runs, newest first, each with its status read from its journal.
    public func list() -> [RunSummary] {
        ids().compactMap { id in
            guard let a = try? RunArchive.open(journalPath(id)) else { return nil }
            // A journal damaged before its end cannot say how the run ended: it says so, not "unfinished".
            let status = a.record.ending?.result?.rawValue ?? (a.problem != nil && a.tornTail == nil ? "unknown" : "unfinished")
            return RunSummary(id: id, playbook: a.record.name, started: a.record.startedAt, status: status,
                              events: a.eventCount, intact: a.problem == nil)
        }
    }

    /// `latest` or a run ID (or a unique prefix of one).
    public func resolve(_ ref: String) -> String? {
        let all = ids()
        if ref == "latest" { return all.first }
        if all.contains(ref) { return ref }
        let matches = all.filter { $0.hasPrefix(ref) }
        return matches.count == 1 ? matches[0] : nil
    }

    public static func sha256(file: String) -> String? {
        guard let data = FileManager.default.contents(atPath: file) else { return nil }
        return Hex.string(SHA256.hash(data: data))
    }

    /// One hash over files and folders (a folder's files in name order): the inventory, or a playbook with its includes.
    public static func sha256(files paths: [String]) -> String {
        var hasher = SHA256()
        for path in paths {
            var isDir: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
            // Contents, and names inside a folder — not where the files are, so the same files hash the same from any directory.
            let files: [(name: String, path: String)] = isDir.boolValue
                ? ((FileManager.default.enumerator(atPath: path)?.allObjects as? [String]) ?? []).sorted().map { ($0, "\(path)/\($0)") }
                : [("", path)]
            for f in files {
                if let data = FileManager.default.contents(atPath: f.path) { hasher.update(data: Data(f.name.utf8)); hasher.update(data: data) }
            }
        }
        return Hex.string(hasher.finalize())
    }
}
