#!/usr/bin/env bash
# Command 1: set everything up, then start the web UI on the embedded default
# (a persistent local Chroma under the data directory, plus the bundled model).
# Extra arguments go to `searchapp ui` (e.g. --port 8600).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
# Cached bytecode, even where the shell says not to write it: without it every start (and
# every health-check child) compiles the whole model stack from source again.
unset PYTHONDONTWRITEBYTECODE
exec "$ROOT/.venv/bin/searchapp" ui "$@"
