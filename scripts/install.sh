#!/usr/bin/env bash
# Install everything chainrule needs, idempotently: .venv (the package, editable), node_modules,
# and with --browser Debian's chromium for the browser tests.
# Usage: bash scripts/install.sh [--browser] [EXTRAS]      e.g. bash scripts/install.sh --browser test,bench
set -euo pipefail
cd "$(dirname "$0")/.."

browser=0
if [ "${1:-}" = "--browser" ]; then browser=1; shift; fi
extras="${1:-}"

is_root() { [ "$(id -u)" = "0" ]; }
apt_updated=0
apt_install() {
  # Only root on a Debian-like machine can do this; anyone else gets a clear message.
  if ! is_root || ! command -v apt-get >/dev/null; then
    echo "install.sh: please install: $* (needs root and apt-get)" >&2
    return 1
  fi
  if [ "$apt_updated" = 0 ]; then apt-get update -q >/dev/null; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
}

python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "install.sh: creating .venv" >&2
  if ! "$python" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    apt_install python3-venv
    "$python" -m venv .venv
  fi
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
if [ -n "$extras" ]; then spec=".[$extras]"; else spec="."; fi
echo "install.sh: pip install -e '$spec'" >&2
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$spec"

if ! command -v npm >/dev/null; then apt_install nodejs npm; fi
echo "install.sh: npm ci" >&2
npm ci --no-audit --no-fund --loglevel=error

if [ "$browser" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  echo "install.sh: apt-get install chromium" >&2
  apt_install chromium || echo "install.sh: could not install chromium; the browser tests will fail" >&2
fi
