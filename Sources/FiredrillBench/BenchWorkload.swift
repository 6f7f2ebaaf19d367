import FiredrillCore
import Foundation

/// Generated inventories and playbooks for `firedrill bench`.
public struct BenchWorkload {
    public var directory: String
    public init(directory: String) { self.directory = directory }

    /// An INI inventory of `hosts` hosts in `groups` groups (plus two parent groups), and a playbook of `steps` steps.
    public func writeLarge(hosts: Int, groups: Int, steps: Int) throws -> (playbook: String, inventory: String) {
        var ini = ""
        let perGroup = max(1, hosts / max(1, groups))
        for g in 0..<groups {
            ini += "[g\(g)]\n"
            let lo = g * perGroup, hi = g == groups - 1 ? hosts : min(hosts, lo + perGroup)
            for h in lo..<hi { ini += "h\(h) ansible_host=10.\(h / 65536 % 256).\(h / 256 % 256).\(h % 256) ansible_port=22 rack=r\(h % 40)\n" }
            ini += "[g\(g):vars]\nsvc_port=\(5000 + g)\n\n"
        }
        ini += "[even:children]\n" + stride(from: 0, to: groups, by: 2).map { "g\($0)" }.joined(separator: "\n") + "\n"
        ini += "[odd:children]\n" + stride(from: 1, to: groups, by: 2).map { "g\($0)" }.joined(separator: "\n") + "\n"
        ini += "[all:vars]\nansible_user=drill\n"
        let inv = (directory as NSString).appendingPathComponent("bench.ini")
        try ini.write(toFile: inv, atomically: true, encoding: .utf8)
        var yml = """
        name: Generated drill
        service: bench
        criticality: high
        inventory: bench.ini
        objectives: { rto: 10m, rpo: 1m }
        vars: { vip: 10.0.0.1, release: "2026.11" }
        checks:
          api: { http: "http://{{ vip }}/health", timeout: 3s }
          port: { tcp: "{{ host }}:{{ svc_port }}", timeout: 2s }
        steady_state: [api]
        steps:

        """
        let patterns = ["even", "odd", "g1:g2", "even:&g4", "all:!g0", "g3[0:9]", "~g1[0-9]", "h1*"]
        for s in 0..<steps {
            let p = s < groups ? "g\(s)" : patterns[s % patterns.count]
            yml += """
              - name: Step \(s)
                on: "\(p)"
                run: "systemctl restart app-{{ inventory_hostname }} --port {{ svc_port }} --rack {{ rack }} --release {{ release }} --step {{ step }}"
                timeout: 30s
                verify: { up: [api], down: [port], within: 1m }

            """
        }
        yml += """
        restore:
          - name: Restore all
            on: all
            run: systemctl start app
            verify: { up: [api, port], within: 5m }

        """
        let pb = (directory as NSString).appendingPathComponent("bench.yml")
        try yml.write(toFile: pb, atomically: true, encoding: .utf8)
        return (pb, inv)
    }

    /// `count` typical playbooks (a handful of steps on a 12-host inventory).
    public func writeTypical(count: Int) throws -> [String] {
        let inv = """
        all:
          vars: { ansible_user: drill }
          children:
            db: { children: { db_primary: { hosts: { db1: { ansible_host: 10.1.0.1 } } }, db_standby: { hosts: { db2: { ansible_host: 10.1.0.2 } } } } }
            web: { hosts: { "web[01:08]": { http_port: 8080 } } }
            dns: { hosts: { ns1: {}, ns2: {} } }
        """
        let invPath = (directory as NSString).appendingPathComponent("typical-inventory.yml")
        try inv.write(toFile: invPath, atomically: true, encoding: .utf8)
        var paths: [String] = []
        for i in 0..<count {
            let yml = """
            name: Typical drill \(i)
            service: svc\(i)
            criticality: high
            owner: it@example.org
            inventory: typical-inventory.yml
            objectives: { rto: 5m, rpo: 30s }
            vars: { vip: 10.0.0.50 }
            checks:
              api: { http: "https://{{ vip }}/health", expect: { status: 200, body_contains: ok }, timeout: 3s }
              db_port: { tcp: "{{ host }}:5432", targets: db }
              web_port: { tcp: "{{ host }}:{{ http_port }}" }
            steady_state: [api, db_port]
            data_check:
              write: { on: db_primary, run: "psql -c \\"insert into marker values ('{{ run_id }}')\\"" }
              read: { on: db_standby, run: "psql -tAc \\"select 1 from marker where id = '{{ run_id }}'\\"" }
            steps:
              - name: Stop primary
                on: db_primary
                run: systemctl stop postgresql
                timeout: 60s
                verify: { up: [api], within: 2m }
              - name: Promote standby
                on: db_standby
                run: pg_ctlcluster 15 main promote
                verify: { up: [api, db_port], within: 5m }
              - name: Drain web
                on: "web:!web01"
                serial: 25%
                run: "systemctl reload nginx"
                verify: { up: [web_port], within: 1m }
            restore:
              - name: Rejoin primary
                on: db_primary
                run: /usr/local/bin/rejoin-as-standby
                verify: { up: [api], within: 10m }

            """
            let p = (directory as NSString).appendingPathComponent("typical-\(i).yml")
            try yml.write(toFile: p, atomically: true, encoding: .utf8)
            paths.append(p)
        }
        return paths
    }
}

public enum ProcessStats {
    /// Peak resident set size of this process (VmHWM), in MB.
    public static func peakRSSMegabytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
            return kb / 1024
        }
        return 0
    }
}
