#!/usr/bin/env bash
# Browser-driven end-to-end tests: the real server and the real field app
# (liveview, and the web build in a phone profile) on loopback, driven by Playwright in headless Chromium from
# Debian's package (never a downloaded browser).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh chromium fonts-noto-cjk fonts-dejavu-core python3-pip
# Node 18 (Debian's) or newer; playwright-core is pinned to a version that supports it.
command -v node >/dev/null || scripts/install-deps.sh nodejs npm
(cd tests/e2e && npm install --no-audit --no-fund --silent)
cargo build -q -p beatbook-server -p beatbook-app -p beatbook-idcard --bins
# The map renderer (MapLibre GL, pmtiles; npm, pinned) where the app and the
# server look for it by default.
scripts/map-assets.sh >/dev/null
# The ID card reader's models, for the field app's scan (and idcard-card's cards).
BEATBOOK_OCR_MODELS=$(scripts/ocr-models.sh)
export BEATBOOK_OCR_MODELS
# The field app's web build, served under /m/ by web-app.test.mjs's server.
scripts/web-build.sh
# The PostgreSQL cluster of scripts/test.sh, else the throwaway one (started
# or reused; left running, as the Rust tests leave it) — before TMPDIR moves,
# since the cluster lives under it.
postgres=${BEATBOOK_TEST_POSTGRES:-$(scripts/postgres.sh ensure)}
E2E_TMP=$(mktemp -d)
export E2E_TMP TMPDIR="$E2E_TMP"
trap 'rm -rf "$E2E_TMP"' EXIT
# One file at a time (each starts its own servers); tests inside a file run in order.
status=0
for f in tests/e2e/*.test.mjs; do
  node --test "$f" || status=1
done
# The supervisor review pages again with every server on PostgreSQL (its
# screenshots kept apart: docs/screenshots comes from the run above).
E2E_POSTGRES="$postgres" BEATBOOK_SCREENSHOTS="$E2E_TMP/screenshots-postgres" \
  node --test tests/e2e/review.test.mjs || status=1
exit $status
