import Foundation

/// Signing and checking a file as OpenSSH's `ssh-keygen -Y sign|verify|find-principals` do
/// (SSHSIG, a namespace per use), so anyone with OpenSSH checks what Firedrill signed and
/// Firedrill checks what OpenSSH signed. The evidence pack signs its manifest
/// (`firedrill-evidence`), an approval signs itself (`firedrill-approval`).
public enum SSHSignature {
    /// How to sign: a key file (private, or public with its private key in the agent), or the
    /// agent's first key.
    public enum Signer: Sendable, Equatable {
        case key(String)
        case agent(publicKey: String?)
    }

    /// Refuses a signer that cannot sign, before anything is written.
    public static func check(_ signer: Signer, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        switch signer {
        case let .key(path):
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw CommandError("the signing key \(path) does not exist or cannot be read", hint: "give an SSH private key (--key ~/.ssh/id_ed25519), or --agent")
            }
            if let problem = privateKeyProblem(path) {
                throw CommandError("the signing key \(TerminalText.safe(path)) \(problem.what)", hint: problem.hint)
            }
        case let .agent(publicKey):
            guard let sock = environment["SSH_AUTH_SOCK"], !sock.isEmpty else {
                throw CommandError("--agent: no SSH agent (SSH_AUTH_SOCK is not set)", hint: "start one (eval $(ssh-agent)) and ssh-add your key, or sign with --key FILE")
            }
            if let publicKey, !FileManager.default.isReadableFile(atPath: publicKey) { throw CommandError("the public key \(publicKey) does not exist or cannot be read") }
        }
    }

    /// Why `path` cannot be signed with by `ssh-keygen -Y sign -f` without a terminal (nil: it
    /// looks like an unencrypted private key). Read here, never shown.
    static func privateKeyProblem(_ path: String) -> (what: String, hint: String)? {
        let hint = "give an SSH private key (--key ~/.ssh/id_ed25519), or --agent"
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return ("is not a file", hint) }
        guard st.st_size <= 64 * 1024, let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            return ("is not an SSH private key", hint)
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if ["ssh-", "ecdsa-", "sk-"].contains(where: trimmed.hasPrefix) {
            return ("is a public key", "sign with its private key (--key ~/.ssh/id_ed25519), or with the agent holding it: --agent --key \(path)")
        }
        guard trimmed.hasPrefix("-----BEGIN "), trimmed.contains("PRIVATE KEY-----") else {
            return ("is not an SSH private key (it does not start with -----BEGIN … PRIVATE KEY-----)", hint)
        }
        let encrypted = (what: "is encrypted (it needs a passphrase, and nothing here may ask for one)",
                         hint: "load it into the agent (ssh-add \(path)) and pass --agent --key \(path).pub")
        if trimmed.contains("Proc-Type: 4,ENCRYPTED") || trimmed.contains("BEGIN ENCRYPTED PRIVATE KEY") { return encrypted }
        if trimmed.hasPrefix("-----BEGIN OPENSSH PRIVATE KEY-----") {
            let body = trimmed.split(whereSeparator: \.isNewline).filter { !$0.hasPrefix("-----") }.joined()
            guard let raw = Data(base64Encoded: body), raw.count > 19, raw.starts(with: Array("openssh-key-v1\0".utf8)) else {
                return ("is not a readable OpenSSH private key", hint)
            }
            let bytes = [UInt8](raw)
            let n = Int(bytes[15]) << 24 | Int(bytes[16]) << 16 | Int(bytes[17]) << 8 | Int(bytes[18])
            guard n <= 64, 19 + n <= bytes.count else { return ("is not a readable OpenSSH private key", hint) }
            if String(decoding: bytes[19..<(19 + n)], as: UTF8.self) != "none" { return encrypted }
        }
        return nil
    }

    /// Signs `file` into `file.sig` (replacing it) in `namespace`.
    public static func sign(_ file: String, namespace: String, with signer: Signer,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        try check(signer, environment: environment)
        var keyFile: String
        var cleanup: String?
        switch signer {
        case let .key(path):
            keyFile = path
        case let .agent(publicKey):
            if let publicKey {
                keyFile = publicKey
            } else {
                let listed = try tool(["/usr/bin/ssh-add", "-L"])
                guard listed.status == 0, let first = listed.output.split(separator: "\n").first(where: { $0.hasPrefix("ssh-") || $0.hasPrefix("ecdsa-") || $0.hasPrefix("sk-") }) else {
                    throw CommandError("--agent: the agent holds no key", hint: "ssh-add ~/.ssh/id_ed25519, or sign with --key FILE")
                }
                keyFile = file + ".signer.pub"
                do { try Data((first + "\n").utf8).write(to: URL(fileURLWithPath: keyFile)) } catch {
                    throw CommandError("cannot write \(keyFile): \(error.localizedDescription)", exit: .failed)
                }
                cleanup = keyFile
            }
        }
        defer { if let cleanup { try? FileManager.default.removeItem(atPath: cleanup) } }
        try? FileManager.default.removeItem(atPath: file + ".sig")
        let r = try tool(["/usr/bin/ssh-keygen", "-q", "-Y", "sign", "-f", keyFile, "-n", namespace, file])
        guard r.status == 0, FileManager.default.fileExists(atPath: file + ".sig") else {
            throw CommandError("ssh-keygen could not sign \((file as NSString).lastPathComponent): \(said(r.output, or: "exit \(r.status)"))",
                               hint: "an encrypted key needs the agent: ssh-add it and pass --agent (with --key KEY.pub to choose it)", exit: .failed)
        }
    }

    /// What checking a signature found: `good` is OpenSSH's line
    /// (`Good "NS" signature for ID with ED25519 key SHA256:…`), else `problem` says why not.
    public struct Check: Sendable, Equatable {
        public var signer: String?
        public var good: String?
        public var problem: String?
        /// `SHA256:…` of the key that signed, from OpenSSH's line.
        public var keyFingerprint: String? {
            good.flatMap { line in line.split(separator: " ").last.map(String.init).flatMap { $0.hasPrefix("SHA256:") ? $0 : nil } }
        }
    }

    /// Checks `file.sig` over `file` in `namespace` against `allowedSigners`, as `identity`, or
    /// as whichever principal the file names for the key that signed.
    public static func verify(_ file: String, namespace: String, allowedSigners: String, identity: String?) throws -> Check {
        guard FileManager.default.fileExists(atPath: file + ".sig") else {
            return Check(signer: identity, good: nil, problem: "\((file as NSString).lastPathComponent).sig is missing: it is not signed")
        }
        guard let signer = try identity ?? principal(signing: file, allowedSigners: allowedSigners) else {
            return Check(signer: nil, good: nil, problem: "no signer in \(allowedSigners) made \((file as NSString).lastPathComponent).sig (or the file was changed)")
        }
        let r = try tool(["/usr/bin/ssh-keygen", "-Y", "verify", "-f", allowedSigners, "-I", signer, "-n", namespace, "-s", file + ".sig"], input: file)
        let line = said(r.output, or: "exit \(r.status)")
        return r.status == 0 ? Check(signer: signer, good: line, problem: nil)
            : Check(signer: signer, good: nil, problem: "the signature does not verify for \(TerminalText.safe(signer)): \(line)")
    }

    /// The principal `allowedSigners` names for the key that made `file.sig`, if any.
    public static func principal(signing file: String, allowedSigners: String) throws -> String? {
        let found = try tool(["/usr/bin/ssh-keygen", "-Y", "find-principals", "-s", file + ".sig", "-f", allowedSigners])
        return found.status == 0 ? found.output.split(separator: "\n").first.map(String.init) : nil
    }

    /// A tool's output as one terminal-safe line.
    static func said(_ output: String, or fallback: String) -> String {
        let s = output.split(whereSeparator: \.isNewline).map { TerminalText.safe(String($0)) }.joined(separator: "; ")
        return s.isEmpty ? fallback : s
    }

    /// A local tool, to its end within 60 seconds (an agent that never answers must not hang us).
    static func tool(_ argv: [String], input: String = "/dev/null") throws -> (status: Int32, output: String) {
        do throws(ChildProcess.Failure) { return try ChildProcess.capture(["/usr/bin/timeout", "60"] + argv, input: input) } catch {
            throw CommandError("cannot run \(argv[0]): \(error.description)", hint: "apt-get install openssh-client", exit: .failed)
        }
    }
}
