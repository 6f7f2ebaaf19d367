import Crypto
import Foundation

extension JournalReader {
    /// A journal read, checked and folded into its record in one pass, without keeping its
    /// events: what a score, a report or `runs` needs of a journal of 100,000 events, in
    /// constant memory beside the record. The same checks as `read` — every line parses, the hash
    /// chain and the sequence hold, the seal vouches for the end — and the same record as
    /// `DrillRecord.fold(read(path).events)`.
    public struct Folded: Sendable {
        public var record = DrillRecord()
        /// Events kept (the ones the chain and the seal vouch for).
        public var count = 0
        public var lastHash = Journal.genesis
        public var problem: String?
        public var tornTail: Int?
        /// SHA-256 of each kept line, 32 bytes each, in order (`prev` of line i+1 is line i's).
        public var lineHashes: [UInt8] = []
    }

    public static func fold(path: String) throws -> Folded {
        var out = Folded()
        guard let handle = FileHandle(forReadingAtPath: path) else { return out }
        defer { try? handle.close() }
        // The seal, when there is one: events past it are not part of the record.
        var seal: (count: Int, hash: String)?
        var sealText: String?
        if let head = try? String(contentsOfFile: path + ".head", encoding: .utf8) {
            sealText = head
            let parts = head.split(whereSeparator: \.isWhitespace)
            if parts.count == 2, let n = Int(parts[0]), n >= 1 { seal = (n, String(parts[1])) }
        }
        let name = (path as NSString).lastPathComponent
        if sealText != nil && seal == nil {
            out.problem = "its seal (\(name).head) is not a seal: the end of the journal cannot be checked"
        }
        var carry = [UInt8]()
        var extra = 0          // complete lines after the seal
        var stopped = false    // a problem was found: nothing more is kept
        let chunkSize = 1 << 20
        while true {
            let chunk = (try? handle.read(upToCount: chunkSize)) ?? Data()
            if chunk.isEmpty { break }
            carry.append(contentsOf: chunk)
            guard let lastNewline = carry.lastIndex(of: 0x0a) else { continue }
            if !stopped {
                process(carry[..<lastNewline], into: &out, seal: seal, name: name, extra: &extra, stopped: &stopped)
            }
            carry.removeSubrange(...lastNewline)
        }
        if stopped { return out }
        if !carry.isEmpty {
            // A torn last write: what precedes it is intact; the seal is not checked (as `read`).
            out.tornTail = carry.count
            out.problem = "line \(out.count + extra + 1) is incomplete (the runner stopped while writing it)"
            return out
        }
        if let seal, out.problem == nil {
            if extra > 0 {
                out.problem = "\(extra == 1 ? "1 line was" : "\(extra) lines were") added after the run was sealed at line \(seal.count): they are not part of the record"
            } else if seal.count > out.count {
                out.problem = "the journal ends at line \(out.count), but the run was sealed at line \(seal.count): lines were removed from the end"
            }
        }
        return out
    }

    /// Complete lines (without their last newline): decoded and hashed on every core, then
    /// checked and folded in order.
    private static func process(_ block: ArraySlice<UInt8>, into out: inout Folded, seal: (count: Int, hash: String)?, name: String,
                                extra: inout Int, stopped: inout Bool) {
        let lines = block.split(separator: 0x0a, omittingEmptySubsequences: false)
        let batch = 2_048
        var start = 0
        while start < lines.count && !stopped {
            let end = min(lines.count, start + batch)
            let slice = Array(lines[start..<end])
            let (decoded, digests) = decodeAndHash(slice)
            for i in 0..<slice.count {
                let lineNumber = out.count + extra + 1
                if let seal, lineNumber > seal.count {
                    // Past the seal: checked nowhere, kept nowhere, counted.
                    extra += 1
                    continue
                }
                guard let e = decoded[i] else { out.problem = "line \(lineNumber) is not a journal event"; stopped = true; return }
                guard e.prev == out.lastHash else {
                    out.problem = "line \(lineNumber) does not follow line \(lineNumber - 1): the chain is broken (edited, removed or reordered lines)"
                    stopped = true; return
                }
                guard e.seq == lineNumber else { out.problem = "line \(lineNumber) has sequence number \(e.seq)"; stopped = true; return }
                let hash = Hex.string(digests[i * 32..<(i + 1) * 32])
                if let seal, lineNumber == seal.count, hash != seal.hash {
                    out.problem = "line \(seal.count) was changed after the run was sealed (it no longer hashes to the seal in \(name).head): it is not part of the record"
                    stopped = true; return
                }
                out.record.apply(e)
                out.lineHashes.append(contentsOf: digests[i * 32..<(i + 1) * 32])
                out.lastHash = hash
                out.count += 1
            }
            start = end
        }
    }
}
