#!/usr/bin/env bash
# Runs the whole test suite from a clean checkout: system packages, build, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests
# The folders of the library depend on each other one way only (docs/architecture.md).
python3 scripts/check-layers.py
swift build --build-tests
swift test --skip-build
