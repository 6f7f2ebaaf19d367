#!/usr/bin/env bash
# Benchmarks/run.sh [N] [RUNS] — firedrill run vs the libssh2 floor (l2drill) and multiplexed
# OpenSSH, interleaved, on the reference lab of ../shared/bench (copied to /tmp/fd-bench).
# Prints per-run wall time and peak RSS, then medians. Needs a release build (swift build -c release).
set -euo pipefail
N="${1:-50}"; RUNS="${2:-5}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FD="$ROOT/.build/release/firedrill"
B=/tmp/fd-bench
[ -d "$B" ] || cp -r "$ROOT/../shared/bench" "$B"
chmod -R u+w "$B"
cd "$B"
make -s lab/l2drill
trap './lab.sh down >/dev/null 2>&1 || true' EXIT
./lab.sh up "$N" >&2
measure() {  # name, command...: prints "name wall_s maxrss_mb"
  local name="$1"; shift
  python3 - "$name" "$@" <<'PY'
import resource, subprocess, sys, time
name, cmd = sys.argv[1], sys.argv[2:]
t = time.monotonic()
r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
wall = time.monotonic() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
if r.returncode != 0:
    sys.stderr.write(r.stderr.decode()[-2000:]); sys.exit(f"{name} failed: exit {r.returncode}")
print(f"{name} {wall:.3f} {rss:.1f}")
PY
}
RUNSDIR=$(mktemp -d)
# ssh-mux: masters opened before timing, as in BASELINE.md.
for r in $(seq "$RUNS"); do
  measure firedrill "$FD" run "$ROOT/Benchmarks/drill-10.yml" -i lab/inventory.ini --yes --output plain --runs-dir "$RUNSDIR" --forks "$N"
  measure l2drill lab/l2drill lab/hosts.txt lab/known_hosts lab/id_ed25519
  ./drill_ssh.sh open-masters >/dev/null 2>&1 || true
  measure ssh-mux ./drill_ssh.sh mux
  ./drill_ssh.sh close-masters >/dev/null 2>&1 || true
done | tee /tmp/fd-bench-results.txt
python3 - /tmp/fd-bench-results.txt <<'PY'
import statistics, sys, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    n, w, m = line.split(); rows[n].append((float(w), float(m)))
floor = statistics.median(w for w, _ in rows["l2drill"])
for n, v in rows.items():
    w = statistics.median(x for x, _ in v); m = max(y for _, y in v)
    print(f"{n:10s} median {w:6.3f} s  (min {min(x for x,_ in v):.3f}, max {max(x for x,_ in v):.3f})  peak RSS {m:5.1f} MB  {w/floor:4.2f}x l2drill")
PY
rm -rf "$RUNSDIR"
