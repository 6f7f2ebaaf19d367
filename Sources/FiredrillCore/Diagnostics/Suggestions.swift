/// "Did you mean" suggestions for misspelled keys, checks, groups and variables.
public enum Suggestions {
    /// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo.
    public static func closest(to word: String, in candidates: some Sequence<String>) -> String? {
        let lowered = word.lowercased()
        var best: (word: String, distance: Int)?
        for candidate in candidates {
            let d = editDistance(lowered, candidate.lowercased())
            let limit = max(1, min(3, (max(word.count, candidate.count) + 2) / 4))
            guard d <= limit else { continue }
            if d < best?.distance ?? Int.max { best = (candidate, d) }
        }
        return best?.word
    }

    /// A hint naming the closest candidate and listing what exists, e.g.
    /// `did you mean 'api'? (checks defined: api, db_port)`; `listLabel` replaces "NOUNs defined".
    public static func hint(for word: String, among candidates: [String], noun: String, listLabel: String? = nil) -> String {
        let listed = candidates.count <= 12
            ? candidates.joined(separator: ", ")
            : candidates.prefix(12).joined(separator: ", ") + ", … (\(candidates.count) in all)"
        let defined = candidates.isEmpty ? "no \(noun)s are defined" : "\(listLabel ?? "\(noun)s defined"): \(listed)"
        if let guess = closest(to: word, in: candidates) {
            return "did you mean '\(guess)'? (\(defined))"
        }
        return defined
    }

    /// Levenshtein distance over Unicode scalars, with transpositions counted as one edit.
    public static func editDistance(_ a: String, _ b: String) -> Int {
        let s = Array(a.unicodeScalars), t = Array(b.unicodeScalars)
        if s.isEmpty { return t.count }
        if t.isEmpty { return s.count }
        var prev2 = [Int](repeating: 0, count: t.count + 1)
        var prev = Array(0...t.count)
        var cur = [Int](repeating: 0, count: t.count + 1)
        for i in 1...s.count {
            cur[0] = i
            for j in 1...t.count {
                let cost = s[i - 1] == t[j - 1] ? 0 : 1
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
                if i > 1, j > 1, s[i - 1] == t[j - 2], s[i - 2] == t[j - 1] {
                    cur[j] = min(cur[j], prev2[j - 2] + 1)
                }
            }
            (prev2, prev, cur) = (prev, cur, prev2)
        }
        return prev[t.count]
    }
}
