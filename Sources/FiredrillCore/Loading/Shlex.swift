/// A POSIX-mode `shlex.split(line, comments=True)`, as Ansible's INI inventory uses it.
enum Shlex {
    struct UnclosedQuote: Error {}

    static func split(_ line: String) throws -> [String] {
        var tokens: [String] = []
        var current = ""
        var inToken = false
        var quote: Character?
        var escaped = false
        for ch in line {
            if escaped {
                current.append(ch); escaped = false; inToken = true
                continue
            }
            if let q = quote {
                if ch == q { quote = nil }
                else if ch == "\\" && q == "\"" { escaped = true }
                else { current.append(ch) }
                continue
            }
            if ch == "\\" { escaped = true; inToken = true; continue }
            if ch == "'" || ch == "\"" { quote = ch; inToken = true; continue }
            // A comment starts at any unquoted `#`, inside a word too (shlex in POSIX mode).
            if ch == "#" { break }
            if ch == " " || ch == "\t" {
                if inToken { tokens.append(current); current = ""; inToken = false }
                continue
            }
            current.append(ch); inToken = true
        }
        if quote != nil || escaped { throw UnclosedQuote() }
        if inToken { tokens.append(current) }
        return tokens
    }
}
