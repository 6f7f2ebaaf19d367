#!/usr/bin/env bash
# The main job, from a clean checkout: build Firedrill, preview the EHR failover drill,
# start the lab (real sshds, a real PostgreSQL primary and streaming standby, health
# endpoints on 127.0.0.1), check it is ready, run the whole drill against it, and verify
# the journal the drill left.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "demo: the lab's PostgreSQL runs as the postgres user, which needs root: sudo bash scripts/demo.sh" >&2
  exit 2
fi
bash scripts/setup.sh
swift build   # debug: shares the build with scripts/test.sh; Benchmarks/ use -c release
fd=.build/debug/firedrill
$fd validate Playbooks/*.yml
$fd plan Playbooks/ehr-db-failover.yml
trap "$fd lab down" EXIT
$fd lab up --postgres
$fd plan Playbooks/ehr-db-failover.yml -i .firedrill-lab/inventory.yml --preflight | sed -n '/^Preflight/,$p'
# The drill itself: failover, verification after every step, RTO/RPO, restore. The pharmacy's
# manual confirmation is recorded as given (--manual=pass); on a terminal, leave it out to be asked.
$fd run Playbooks/ehr-db-failover.yml -i .firedrill-lab/inventory.yml --yes --manual=pass --runs-dir runs --db runs/history.sqlite
$fd runs --runs-dir runs | head -5
$fd verify-journal latest --runs-dir runs
# The readiness score again, from the journal alone, and the history the run recorded itself in.
$fd score latest --runs-dir runs
$fd history --db runs/history.sqlite --limit 5
# The after-action report of this drill (one self-contained HTML file) and the readiness
# scorecard of every example playbook, from the journal and the history alone.
$fd report latest --runs-dir runs --db runs/history.sqlite --format html -o runs/report.html
$fd scorecard --dir Playbooks -i .firedrill-lab/inventory.yml --db runs/history.sqlite
$fd scorecard --dir Playbooks -i .firedrill-lab/inventory.yml --db runs/history.sqlite --format html -o runs/scorecard.html
echo
echo "After-action report: $PWD/runs/report.html"
echo "Readiness scorecard: $PWD/runs/scorecard.html"
