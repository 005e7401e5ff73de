#!/usr/bin/env bash
# Install everything (incl. Debian's chromium when root), then run ruff, the JS tests and the
# whole pytest suite. Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh --browser test,bench || { echo "test.sh: install failed" >&2; exit 1; }

status=0
echo "== ruff check"
.venv/bin/ruff check . || status=1

js_tests=$(find tests/js -type f \( -name '*.test.js' -o -name '*.test.mjs' \) 2>/dev/null | sort)
if [ -n "$js_tests" ]; then
  echo "== node --test"
  # shellcheck disable=SC2086
  node --test $js_tests || status=1
fi

run_pytest() {
  .venv/bin/pytest -q "$@"
  local rc=$?
  if [ "$rc" = 5 ]; then
    echo "test.sh: pytest collected no tests" >&2
    status=1
  elif [ "$rc" != 0 ]; then
    status=1
  fi
}

echo "== pytest"
if [ "$#" -gt 0 ]; then
  run_pytest "$@"
else
  run_pytest --ignore=tests/browser
  # A browser test waits on the browser and the server in turn: two workers keep both cores busy.
  echo "== pytest tests/browser (two workers)"
  run_pytest -n 2 tests/browser
fi

if [ "$status" = 0 ]; then echo "test.sh: all checks passed"; else echo "test.sh: FAILED" >&2; fi
exit "$status"
