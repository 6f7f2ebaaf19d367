#!/usr/bin/env bash
# The main job, from a clean checkout: build Firedrill, preview the EHR failover drill,
# start the lab (real sshds on 127.0.0.1) and reach every lab host over SSH.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release
.build/release/firedrill validate Playbooks/*.yml
.build/release/firedrill plan Playbooks/ehr-db-failover.yml
trap '.build/release/firedrill lab down' EXIT
.build/release/firedrill lab up
.build/release/firedrill ping all -i .firedrill-lab/inventory.yml
.build/release/firedrill plan Playbooks/ehr-db-failover.yml -i .firedrill-lab/inventory.yml --format markdown | head -20
