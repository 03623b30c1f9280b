#!/usr/bin/env bash
# The main job: set up, index the bundled sample corpus, start the app.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/kommunesoeg index corpus/
exec .venv/bin/streamlit run app.py --server.headless true "$@"
