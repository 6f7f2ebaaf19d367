import ArgumentParser
import FiredrillCore
import Foundation

struct InventoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inventory",
        abstract: "List the hosts a pattern selects, with connection settings and variables.",
        discussion: """
        Patterns follow Ansible: all, web*, ~regex, a:b (union), a:&b (intersection), a:!b (exclusion), group[0:2].
        A pattern that selects no host is an answer, not an error (as `ansible PATTERN \
        --list-hosts` answers "hosts (0)"): an empty list (JSON: "hosts": []), a warning on \
        stderr, exit 0. An invalid pattern or inventory exits 2. (Running a drill on no host \
        stays an error.)

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
    var format: TextOrJSON = .text

    @Flag(name: .long, help: "Never colour the output.")
    var noColor = false

    func validate() throws {
        if inventory.isEmpty { throw ValidationError("give an inventory with -i, e.g. -i Inventory/hospital.yml") }
    }

    func run() throws {
        let renderer = InventoryRenderer(style: TerminalStyle.detect(noColorFlag: noColor))
        if graph {
            let loaded = InventoryLoader().load(paths: inventory)
            if loaded.diagnostics.hasErrors { throw DiagnosticsError(loaded.diagnostics, sources: loaded.sources) }
            Terminal.report(loaded.diagnostics, sources: loaded.sources, noColor: noColor)
            let inv = loaded.inventory
            guard inv.groups[pattern] != nil else {
                throw Diagnostic.error("--graph needs a group name; '\(pattern)' is not a group", hint: Suggestions.hint(for: pattern, among: inv.groupOrder, noun: "group"))
            }
            Terminal.out(renderer.graph(inv, from: pattern))
            return
        }
        // A listing that selects nothing is an answer (like `ansible PATTERN --list-hosts`: "hosts (0)"):
        // an empty list, a warning on stderr, exit 0.
        let (inv, hosts) = try selectHosts(inventory: inventory, pattern: pattern, limit: limit, noColor: noColor, allowEmpty: true)
        switch format {
        case .json: Terminal.out(try renderer.json(inv, pattern: pattern, hosts: hosts))
        case .text: Terminal.out(renderer.list(inv, hosts: hosts))
        }
    }
}
