#!/usr/bin/env bash
# Install what is missing, then serve chainrule on http://127.0.0.1:8000 (Ctrl-C stops it).
# Extra arguments go to `chainrule serve`, e.g. bash scripts/serve.sh --port 8001 --workers 4
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/chainrule serve "$@"
