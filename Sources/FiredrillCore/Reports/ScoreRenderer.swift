/// A score for the terminal: the total and grade, each component, every deduction.
public struct ScoreRenderer: Sendable {
    public var style: TerminalStyle
    public init(style: TerminalStyle) { self.style = style }

    /// `Score 86.4/100 (B)`, coloured by grade.
    public func headline(_ s: Score) -> String {
        let text = "\(Self.num(s.points))/100 (\(s.grade.rawValue))"
        switch s.grade {
        case .A, .B: return style.green(text)
        case .C: return style.yellow(text)
        case .D, .F: return style.red(text)
        }
    }

    public func render(_ s: Score) -> String {
        var out = style.bold("Score ") + headline(s) + style.dim("  rules \(s.rules)") + "\n"
        let weights = s.components.filter(\.applicable).reduce(0) { $0 + $1.weight }
        if weights < 100 {
            out += style.dim("  scaled to 100 over the components that apply (\(Self.num(weights)) of 100 points)") + "\n"
        }
        for c in s.components {
            let title = c.id.title.padding(toLength: 40, withPad: " ", startingAt: 0)
            let value = c.applicable ? "\(Self.num(c.earned))/\(Self.num(c.possible))" : "n/a"
            out += "  \(title)\(value.padding(toLength: 11, withPad: " ", startingAt: 0))\(style.dim(c.note ?? ""))\n"
        }
        if !s.deductions.isEmpty {
            out += "  deductions\n"
            for d in s.deductions { out += "   " + style.red("−\(Self.num(d.points))") + " \(line(d))\n" }
        }
        return out
    }

    /// `rto: RTO 7m12s > objective 5m (…)` with the evidence, if any.
    public func line(_ d: Score.Deduction) -> String {
        "\(d.component): \(d.reason)" + (d.evidence.map { " — \($0.prefix(160))" } ?? "")
    }

    public static func num(_ x: Double) -> String {
        x == x.rounded() ? String(Int(x)) : String(format: "%.1f", x)
    }
}
