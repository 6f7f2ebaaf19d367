/// Commands installed on the lab hosts' PATH. They act on the simulated state of the host
/// they run on (`$FIREDRILL_LAB_HOST`, set by that host's sshd), so example playbooks can use
/// the commands a real runbook would (`systemctl stop postgresql`, `pg_ctlcluster … promote`).
enum LabShims {
    static let common = """
    #!/bin/sh
    # Firedrill lab shim: simulated state lives under $FIREDRILL_LAB_DIR/hosts/$FIREDRILL_LAB_HOST.
    set -eu
    : "${FIREDRILL_LAB_DIR:?not a firedrill lab host}" "${FIREDRILL_LAB_HOST:?not a firedrill lab host}"
    STATE="$FIREDRILL_LAB_DIR/hosts/$FIREDRILL_LAB_HOST/state"
    mkdir -p "$STATE"
    # A knob for scenario tests: LAB_DELAY_<command> seconds in the host's state folder.
    delay() { if [ -f "$STATE/delay-$1" ]; then sleep "$(cat "$STATE/delay-$1")"; fi; }
    fail_if() { if [ -f "$STATE/fail-$1" ]; then echo "$1: simulated failure" >&2; exit 1; fi; }

    """

    static let scripts: [String: String] = [
        "systemctl": common + """
        cmd="${1:-}"; svc="${2:-}"
        [ -n "$svc" ] || { echo "usage: systemctl start|stop|restart|reload|is-active SERVICE" >&2; exit 2; }
        delay "systemctl"; fail_if "systemctl-$cmd-$svc"
        case "$cmd" in
          start|restart|reload) echo running > "$STATE/$svc" ;;
          stop) echo stopped > "$STATE/$svc" ;;
          is-active) [ "$(cat "$STATE/$svc" 2>/dev/null)" = running ] && { echo active; exit 0; } || { echo inactive; exit 3; } ;;
          *) echo "systemctl: unknown command $cmd" >&2; exit 2 ;;
        esac
        """,
        "pg_ctlcluster": common + """
        action="${3:-}"
        delay "pg_ctlcluster"; fail_if "pg_ctlcluster-$action"
        case "$action" in
          promote) echo primary > "$STATE/pg-role"; echo running > "$STATE/postgresql" ;;
          demote) echo standby > "$STATE/pg-role" ;;
          start) echo running > "$STATE/postgresql" ;;
          stop) echo stopped > "$STATE/postgresql" ;;
          *) echo "pg_ctlcluster: unknown action $action" >&2; exit 2 ;;
        esac
        """,
        "pg-role": common + """
        cat "$STATE/pg-role" 2>/dev/null || echo none
        """,
        "rejoin-as-standby": common + """
        delay "rejoin"; fail_if "rejoin"
        echo standby > "$STATE/pg-role"; echo running > "$STATE/postgresql"
        """,
        "drill-marker": common + """
        mkdir -p "$FIREDRILL_LAB_DIR/replica"
        delay "drill-marker"
        case "${1:-}" in
          write) date +%s > "$FIREDRILL_LAB_DIR/replica/marker-$2"; echo "marker $2 written" ;;
          read) test -f "$FIREDRILL_LAB_DIR/replica/marker-$2" && cat "$FIREDRILL_LAB_DIR/replica/marker-$2" ;;
          *) echo "usage: drill-marker write|read ID" >&2; exit 2 ;;
        esac
        """,
        "pdnsutil": common + """
        # pdnsutil replace-rrset ZONE NAME TYPE TTL ADDRESS
        [ "${1:-}" = replace-rrset ] || { echo "lab pdnsutil supports replace-rrset only" >&2; exit 2; }
        mkdir -p "$FIREDRILL_LAB_DIR/dns"; echo "$6" > "$FIREDRILL_LAB_DIR/dns/$3.$2-$4"
        """,
        "bca-export": common + """
        out="${2:?usage: bca-export --out FILE}"; mkdir -p "$(dirname "$out")"
        printf 'medication list exported %s\\n' "$(date -u +%FT%TZ)" > "$out"
        """,
        "endpoint-agent": common + """
        # The endpoint security agent (simulated): endpoint-agent version | install VERSION | health
        case "${1:-}" in
          version) cat "$STATE/agent-version" 2>/dev/null || echo none ;;
          install)
            v="${2:?usage: endpoint-agent install VERSION}"
            delay "endpoint-agent"; fail_if "endpoint-agent-install-$v"
            echo "$v" > "$STATE/agent-version"; echo "agent $v installed on $FIREDRILL_LAB_HOST" ;;
          health)
            # A host whose knob names the installed version as bad crashes with it (the CrowdStrike case).
            v="$(cat "$STATE/agent-version" 2>/dev/null || echo none)"
            if [ -f "$STATE/agent-crashes-$v" ]; then echo "agent $v crashed on $FIREDRILL_LAB_HOST" >&2; exit 1; fi
            echo "agent $v healthy" ;;
          *) echo "usage: endpoint-agent version|install VERSION|health" >&2; exit 2 ;;
        esac
        """,
        "journalctl": common + """
        echo "-- lab journal for $FIREDRILL_LAB_HOST: no entries --"
        """,
    ]
}
