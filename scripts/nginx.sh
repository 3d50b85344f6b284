#!/usr/bin/env bash
# Makes nginx (with its auth_request module, as Debian builds it) available
# for the gate's end-to-end test (e2e/tests/gate.test.mjs, deploy/nginx/):
# installed with apt where missing. The test starts its own nginx on a
# configuration of its own; this script starts none. Safe to run again.
set -euo pipefail
say() { printf 'nginx: %s\n' "$*"; }
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then
  say "present"
else
  say "installing nginx with apt"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # policy-rc.d may start the packaged service; the tests never use it.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
"$nginx_bin" -V 2>&1 | grep -q -- --with-http_auth_request_module \
  || { say "this nginx has no auth_request module" >&2; exit 1; }
# The Python example of docs/INTEGRATION.md runs with Debian's PyJWT.
if ! /usr/bin/python3 -c 'import jwt, cryptography' 2>/dev/null; then
  say "installing python3-jwt and python3-cryptography with apt"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-jwt python3-cryptography >/dev/null
fi
