import ArgumentParser
import FiredrillCore
import Foundation

struct InventoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inventory",
        abstract: "List the hosts a pattern selects, with connection settings and variables.",
        discussion: """
        Patterns follow Ansible: all, web*, ~regex, a:b (union), a:&b (intersection), a:!b (exclusion), group[0:2].

        Examples:
          firedrill inventory -i Inventory/hospital.yml 'db:!db3'
          firedrill inventory -i Inventory/hospital.ini --graph
        """
    )

    @Option(name: [.customShort("i"), .long], help: ArgumentHelp("Inventory file or folder (repeatable).", valueName: "INVENTORY"))
    var inventory: [String] = []

    @Argument(help: ArgumentHelp("Host pattern (default: all).", valueName: "PATTERN"))
    var pattern: String = "all"

    @Option(name: [.customShort("l"), .long], help: ArgumentHelp("Further limit the selection.", valueName: "PATTERN"))
    var limit: String?

    @Flag(help: "Show the group tree (like ansible-inventory --graph); PATTERN must then be a group.")
    var graph = false

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    @Flag(name: .long, help: "Never colour the output.")
    var noColor = false

    func validate() throws {
        if inventory.isEmpty { throw ValidationError("give an inventory with -i, e.g. -i Inventory/hospital.yml") }
        if format == .markdown { throw ValidationError("--format must be text or json for inventory") }
    }

    func run() throws {
        let loaded = InventoryLoader().load(paths: inventory)
        Terminal.report(loaded.diagnostics, sources: loaded.sources, noColor: noColor)
        if loaded.diagnostics.hasErrors { Terminal.exit(ExitStatus.invalidInput) }
        let inv = loaded.inventory
        let renderer = InventoryRenderer(style: TerminalStyle.detect(noColorFlag: noColor))
        if graph {
            guard inv.groups[pattern] != nil else {
                Terminal.report([.error("--graph needs a group name; '\(pattern)' is not a group",
                                        hint: Suggestions.hint(for: pattern, among: inv.groupOrder, noun: "group"))], sources: [:], noColor: noColor)
                Terminal.exit(ExitStatus.invalidInput)
            }
            Terminal.out(renderer.graph(inv, from: pattern))
            return
        }
        let selection: InventoryPattern.Selection
        do {
            selection = try InventoryPattern(inv).select(pattern, limit: limit)
        } catch {
            let message: String
            switch error {
            case let .invalidRegex(p): message = "'\(p)' is not a valid regular expression"
            case let .subscriptOutOfRange(p): message = "'\(p)' asks for a host position that does not exist"
            }
            Terminal.report([.error(message, hint: "see 'firedrill inventory --help' for pattern syntax")], sources: [:], noColor: noColor)
            Terminal.exit(ExitStatus.invalidInput)
        }
        for word in selection.unmatched {
            Terminal.err("warning: '\(word)' matches no group or host\n")
        }
        switch format {
        case .json: Terminal.out(try renderer.json(inv, pattern: pattern, hosts: selection.hosts))
        default: Terminal.out(renderer.list(inv, hosts: selection.hosts))
        }
    }
}
