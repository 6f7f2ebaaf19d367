#!/usr/bin/env bash
# The main job, from a clean checkout: build Firedrill and preview the EHR failover drill.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release
.build/release/firedrill validate Playbooks/*.yml
.build/release/firedrill plan Playbooks/ehr-db-failover.yml
