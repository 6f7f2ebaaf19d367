#!/usr/bin/env bash
# Benchmarks/run.sh [N] [RUNS] [LATENCY] — the reference drill (Benchmarks/drill-10.yml: 10 steps,
# 20 commands per host) on N lab hosts, `firedrill run` (resident executor, and one channel per
# command) against the libssh2 floor (Benchmarks/l2drill.c: one connection per host, a channel per
# command), interleaved, on the same `firedrill lab up --hosts N [--latency LATENCY]`.
# Prints each run's wall time, controller CPU and peak RSS, then medians and ratios to the floor.
# Needs a release build (swift build -c release), gcc and libssh2-1-dev; run as root (the lab).
set -euo pipefail
N="${1:-50}"; RUNS="${2:-5}"; LATENCY="${3:-}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FD="$ROOT/.build/release/firedrill"
[ -x "$FD" ] || { echo "no release build: run swift build -c release" >&2; exit 2; }
W=$(mktemp -d /tmp/fd-bench.XXXXXX)
# The lab's folder holds what `lab down` needs to stop it: kept (and said) if stopping failed.
trap 'if "$FD" lab down --dir "$W/lab" >/dev/null 2>&1 || [ ! -e "$W/lab/lab.json" ]; then rm -rf "$W"; else echo "lab down failed: stop it with $FD lab down --dir $W/lab" >&2; fi' EXIT
gcc -O2 -o "$W/l2drill" "$ROOT/Benchmarks/l2drill.c" -lssh2 -lpthread
"$FD" lab up --dir "$W/lab" --hosts "$N" ${LATENCY:+--latency "$LATENCY"} >&2
# The floor reaches the same ports (the relay's, with --latency) as the inventory.
grep -oE '^ +[a-z0-9]+: \{ ansible_port: [0-9]+' "$W/lab/inventory.yml" | awk '{gsub(":","",$1); gsub(",","",$4); print $1, "127.0.0.1", $4}' > "$W/hosts.txt"
[ "$(wc -l < "$W/hosts.txt")" -eq "$N" ] || { echo "expected $N hosts in the lab's inventory" >&2; exit 1; }
measure() {  # name commands command...: prints "name wall_s cpu_ms_per_command maxrss_mb"
  local name="$1" commands="$2"; shift 2
  python3 - "$name" "$commands" "$@" <<'PY'
import resource, subprocess, sys, time
name, commands, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
t = time.monotonic()
r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
wall = time.monotonic() - t
u = resource.getrusage(resource.RUSAGE_CHILDREN)
if r.returncode != 0:
    sys.stderr.write(r.stderr.decode()[-2000:]); sys.exit(f"{name} failed: exit {r.returncode}")
print(f"{name} {wall:.3f} {(u.ru_utime + u.ru_stime) * 1000 / commands:.3f} {u.ru_maxrss / 1024:.1f}")
PY
}
C=$((N * 20))
for r in $(seq "$RUNS"); do
  measure firedrill "$C" "$FD" run "$ROOT/Benchmarks/drill-10.yml" -i "$W/lab/inventory.yml" --yes --output plain --runs-dir "$W/runs" --forks "$N"
  measure l2drill "$C" "$W/l2drill" "$W/hosts.txt" "$W/lab/known_hosts" "$W/lab/id_ed25519"
  measure fd-channel "$C" "$FD" run "$ROOT/Benchmarks/drill-10.yml" -i "$W/lab/inventory.yml" --yes --output plain --runs-dir "$W/runs" --forks "$N" --executor channel
done | tee "$W/results.txt" >&2
echo "N=$N runs=$RUNS latency=${LATENCY:-none}  ($(nproc) cores, $(uname -r), $(date -u +%F))"
python3 - "$W/results.txt" <<'PY'
import statistics, sys, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    n, w, c, m = line.split(); rows[n].append((float(w), float(c), float(m)))
floor = statistics.median(w for w, _, _ in rows["l2drill"])
for n, v in rows.items():
    w = statistics.median(x[0] for x in v); c = statistics.median(x[1] for x in v); m = max(x[2] for x in v)
    print(f"{n:10s} median {w:6.3f} s (min {min(x[0] for x in v):.3f}, max {max(x[0] for x in v):.3f})  "
          f"CPU {c:.3f} ms/command  peak RSS {m:5.1f} MB  {w / floor:4.2f}x l2drill")
PY
