#!/usr/bin/env bash
# Command 2: set everything up (venv, test tools, Debian's Chromium for the browser
# test), then run the test suite. Three tiers (tests/conftest.py sizes the long tests):
#   scripts/test.sh            everything that guards behaviour, sized for CI (< 20 min on 2 cores)
#   scripts/test.sh --full     adds the long versions: the whole SciFact evaluation, 20 kill
#                              trials, a 60 s soak, the 20x20 load test, 600 fuzz cases each
#   scripts/test.sh --fast     a quick loop without the model, the browser or a server
# Other arguments go to pytest. The supply-chain audit is its own command: scripts/audit.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
tier=ci
# Two test processes on two cores (up to four on bigger machines): much of the suite waits on
# servers, browsers and child processes (a third process on two cores gained nothing beyond
# noise). A test file stays in one process, so a file's module fixtures (a live server, a
# built library) are made once; files go out longest first (tests/conftest.py), not in
# xdist's most-tests-first order.
workers=$(( $(nproc) < 4 ? $(nproc) : 4 ))
markers=(-m "not full" -n "$workers" --dist loadfile --no-loadscope-reorder)
case "${1:-}" in
  --full) tier=full; markers=(-n "$workers" --dist loadfile --no-loadscope-reorder); shift ;;
  --fast) tier=fast; markers=(-m "not model and not slow and not browser and not server and not full" -n auto); shift ;;
esac
bash scripts/setup.sh dev
if [ "$tier" != fast ] && [ ! -x /usr/bin/chromium ]; then
  echo "[test] installing Debian's chromium for the browser test" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
export SEARCHAPP_TEST_TIER="$tier"
# The suite starts hundreds of Python processes (CLI runs, clients, servers, kill trials).
# With PYTHONDONTWRITEBYTECODE set (some shells and CI images set it), each one compiles
# every module it imports from source again: 21 s instead of 9 s to import the model stack
# (docs/benchmarks.md, "The test suite"). Cached bytecode is Python's default; let it be written.
unset PYTHONDONTWRITEBYTECODE
exec .venv/bin/python -m pytest "${markers[@]}" "$@"
