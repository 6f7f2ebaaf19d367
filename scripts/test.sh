#!/usr/bin/env bash
# Runs the whole test suite from a clean checkout: system packages, build, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests
swift build --build-tests
swift test --skip-build
