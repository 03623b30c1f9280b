#!/usr/bin/env bash
# Installs everything Kommunesøg needs on a fresh Debian machine: Tesseract with Danish and
# poppler-utils (OCR of scanned pages, page previews),
# Chromium (browser tests only), a virtualenv with the package and its extras.
# Usage: scripts/setup.sh [--test]   (--test adds the browser, the test tools and the
# PostgreSQL extra, whose tests start their own server)
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

apt_pkgs="tesseract-ocr tesseract-ocr-dan poppler-utils"
[ $want_test = 1 ] && apt_pkgs="$apt_pkgs chromium"
missing=""
for p in $apt_pkgs; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
extras="."
[ $want_test = 1 ] && extras=".[dev,st,postgres]"  # postgres: the PostgreSQL store's tests
.venv/bin/python -m pip install -q -e "$extras" 2>&1 | grep -v '^WARNING: Location' || true

# axe-core (npm) for the browser test's WCAG 2.1 AA check, kept inside .venv (not tracked)
if [ $want_test = 1 ]; then
  if ! command -v npm >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
  fi
  [ -f .venv/axe/node_modules/axe-core/axe.min.js ] || \
    npm install --silent --no-audit --no-fund --no-save --prefix .venv/axe axe-core@4.14.1 >/dev/null
fi
