#!/usr/bin/env bash
# Browser-driven end-to-end tests: the real server and the real field app
# (liveview) on loopback, driven by Playwright in headless Chromium from
# Debian's package (never a downloaded browser).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh chromium fonts-noto-cjk fonts-dejavu-core
command -v node >/dev/null || scripts/install-deps.sh nodejs npm
(cd tests/e2e && npm install --no-audit --no-fund --silent)
cargo build -q -p beatbook-server -p beatbook-app
E2E_TMP=$(mktemp -d)
export E2E_TMP TMPDIR="$E2E_TMP"
trap 'rm -rf "$E2E_TMP"' EXIT
node --test --test-concurrency=1 tests/e2e/*.test.mjs
