#!/usr/bin/env bash
# Renders lineup-gate.conf.template to standard output, replacing only the
# template's own variables (nginx's $variables are left alone).
#
# Usage: SHOP_LISTEN=... SHOP_SERVER_NAME=... ORIGIN=... LINEUP_URL=... \
#          LINE_URL=... CONCERT_ID=... deploy/nginx/render.sh > /etc/nginx/conf.d/lineup-gate.conf
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for name in SHOP_LISTEN SHOP_SERVER_NAME ORIGIN LINEUP_URL LINE_URL CONCERT_ID; do
  [ -n "${!name:-}" ] || { echo "render.sh: $name is not set" >&2; exit 1; }
done
envsubst '${SHOP_LISTEN} ${SHOP_SERVER_NAME} ${ORIGIN} ${LINEUP_URL} ${LINE_URL} ${CONCERT_ID}' \
  <"$here/lineup-gate.conf.template"
