#!/usr/bin/env bash
# Makes Debian's headless-capable Chromium available at /usr/bin/chromium for the
# end-to-end tests in e2e/. Where it is installed already this does nothing.
# (playwright-core drives this browser; it never downloads one of its own.)
set -euo pipefail

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

if [ -x "$CHROMIUM" ]; then
  exit 0
fi

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

echo "browser: installing chromium with apt"
as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
[ -x "$CHROMIUM" ] || { echo "browser: $CHROMIUM is still missing" >&2; exit 1; }
