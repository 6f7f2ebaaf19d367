import Foundation
@testable import FiredrillCore

enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path
    static func path(_ name: String) -> String { (root as NSString).appendingPathComponent(name) }
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
}

/// Loads playbook text with an inline inventory and validates it; returns the diagnostics.
func diagnose(_ playbook: String, inventory: String = defaultInventory, extraVars: [String: VarValue] = [:],
              environment: [String: String] = [:]) -> [Diagnostic] {
    let loaded = PlaybookLoader().load(text: playbook, file: "test.yml")
    guard let pb = loaded.playbook else { return loaded.diagnostics }
    let inv = InventoryLoader().load(text: inventory, file: "inventory.yml")
    return loaded.diagnostics + inv.diagnostics
        + Validator(playbook: pb, inventory: inv.inventory, extraVars: extraVars, environment: environment).validateAndPlan().diagnostics
}

func plan(_ playbook: String, inventory: String = defaultInventory, limit: String? = nil, extraVars: [String: VarValue] = [:]) -> (Plan?, [Diagnostic]) {
    let loaded = PlaybookLoader().load(text: playbook, file: "test.yml")
    guard let pb = loaded.playbook else { return (nil, loaded.diagnostics) }
    let inv = InventoryLoader().load(text: inventory, file: "inventory.yml")
    return Planner(playbook: pb, inventory: inv.inventory, extraVars: extraVars, limit: limit).plan()
}

let defaultInventory = """
all:
  vars: { vip: 10.0.0.50 }
  children:
    db_primary: { hosts: { db1: { ansible_host: 10.0.0.11, pg_port: 5432 } } }
    db_standby: { hosts: { db2: { ansible_host: 10.0.0.12, pg_port: 5433 } } }
    web: { hosts: { "web[1:4]": { http_port: 8080 } } }
"""

/// A minimal valid playbook; `steps` replaces its steps section.
func playbook(steps: String = """
  - name: Stop primary
    on: db_primary
    run: systemctl stop postgresql
    verify: { down: [db_port], within: 30s }
""", extra: String = "") -> String {
    """
    name: Test drill
    service: ehr-db
    criticality: critical
    objectives: { rto: 5m }
    secrets: { db_password: env:TEST_DB_PASSWORD }
    checks:
      api: { http: "http://{{ vip }}/health", timeout: 3s }
      db_port: { tcp: "{{ host }}:{{ pg_port }}", timeout: 2s }
    steady_state: [api]
    \(extra)
    steps:
    \(steps)
    restore:
      - name: Start primary
        on: db_primary
        run: systemctl start postgresql
        verify: { up: [api], within: 1m }
    """
}

extension Array where Element == Diagnostic {
    var messages: [String] { map(\.message) }
    func first(containing text: String) -> Diagnostic? { first { $0.message.contains(text) } }
}
