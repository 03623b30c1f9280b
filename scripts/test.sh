#!/usr/bin/env bash
# Set up (browser and test tools included), check the import contracts, run the test suite.
# `lint-imports` (contracts in pyproject.toml) fails the run before any test starts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
.venv/bin/lint-imports --no-logo --no-cache
exec .venv/bin/python -m pytest "$@"
