#!/usr/bin/env bash
# Schemathesis (from PyPI, in a venv under the target directory) against the
# server's own /v1/openapi.json, with a demo district and an enrolled
# officer's token: every operation, positive and negative data, every check
# (no 5xx, status codes, content types, headers and bodies as documented).
# Exits non-zero on any failure. CI runs it (scripts/test.sh) with the budget
# below; more with e.g. BEATBOOK_SCHEMATHESIS_EXAMPLES=500. Every check runs
# (schemathesis' default); tests/schemathesis.toml lists the two exceptions.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh python3-venv curl

target="$(realpath -m "${CARGO_TARGET_DIR:-target}")"
venv="$target/schemathesis-venv"
version="4.32.5"
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$version"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi

# The whole workspace's binaries: the same features as the tests' build, so nothing rebuilds.
cargo build --quiet --workspace --bins
server="$target/debug/beatbook-server"
data="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT

"$server" --data-dir "$data" demo --addresses 200 --households 20 >/dev/null
RUST_LOG=error "$server" --data-dir "$data" serve --listen "127.0.0.1:$port" 2>"$data/server.log" &
pid=$!
for _ in $(seq 1 200); do curl -fs "127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

token="$(curl -fs -X POST "127.0.0.1:$port/v1/enroll" -H 'content-type: application/json' \
  -d '{"badge":"061201","password":"beatbook-demo","device_id":"0193a0d0-0000-7000-8000-00000000f00d","device_name":"schemathesis"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"

status=0
repo="$PWD"
# From the scratch directory: schemathesis leaves a .schemathesis/ cache in its working directory.
cd "$data"
"$venv/bin/schemathesis" --config-file "$repo/tests/schemathesis.toml" run "http://127.0.0.1:$port/v1/openapi.json" \
  --header "Authorization: Bearer $token" \
  --max-examples "${BEATBOOK_SCHEMATHESIS_EXAMPLES:-40}" \
  --seed "${BEATBOOK_SCHEMATHESIS_SEED:-20261128}" \
  --workers 2 \
  --request-timeout 30 \
  --generation-database none \
  --no-color \
  "$@" || status=$?
if grep -q "handler panicked" "$data/server.log"; then
  echo "the server logged a panic:" >&2
  grep -n "panicked" "$data/server.log" >&2
  status=1
fi
exit $status
