#!/usr/bin/env bash
# Runs every test of the workspace. Installs what the tests need first, so a
# fresh Debian machine with only Rust on it passes too.
set -euo pipefail
cd "$(dirname "$0")/.."
# gpsd and gpsfake (gpsd-clients): tests/tests/gpsd_location.rs replays a GPS log.
# fonts-noto-cjk: the ID card reader's synthetic cards (idcard/tests/read_cards.rs).
scripts/install-deps.sh gpsd gpsd-clients fonts-noto-cjk python3-pip
# The ID card reader's models (idcard/MODELS.md), fetched from PyPI and checked.
BEATBOOK_OCR_MODELS=$(scripts/ocr-models.sh)
export BEATBOOK_OCR_MODELS

# One throwaway PostgreSQL cluster (loopback only) for the whole run: the
# PostgreSQL backend's own tests, the end-to-end suites' PostgreSQL pass and
# the browser tests make their databases in it. Removed at the end.
BEATBOOK_TEST_POSTGRES=$(scripts/postgres.sh ensure)
export BEATBOOK_TEST_POSTGRES
trap 'scripts/postgres.sh stop' EXIT

cargo test --workspace --all-targets "$@"
cargo test --workspace --doc

# The field app's core for the browser (issue 18): it must keep building for
# wasm32 (SQLCipher through sqlite-wasm-rs, compiled by clang).
rustup target add wasm32-unknown-unknown
cargo build -p beatbook-core --target wasm32-unknown-unknown
# ... and its encrypted store works in a browser (headless Chromium, OPFS).
scripts/wasm-test.sh

# The end-to-end suites again with every test server on PostgreSQL
# (tests/src/backend.rs). Same profile, features and package selection as
# the first pass (`--workspace`: `-p beatbook-tests` would resolve features
# differently and rebuild), so nothing is rebuilt. Not here: fuzz_smoke (the
# request parsers, no storage) and attack_app (the field app's own defences).
pg_started=$SECONDS
pg_suites=(
  test_backend
  client_sync pull_and_merge exactly_once blobs auth_and_scope authz_matrix bad_input
  review_pages review_map attack_review qr_enroll duplicates tasks hazard_loop admin_pages
  fault_server_kill fault_network fault_client_kill client_crash
  attack_signin attack_connections attack_disk attack_deploy instances restore_compacted
)
BEATBOOK_TEST_BACKEND=postgres cargo test --workspace "${pg_suites[@]/#/--test=}" "$@"
echo "PostgreSQL pass: $((SECONDS - pg_started)) s"

scripts/e2e.sh

# ---- Reliability, short modes (issue 7) ----
# The fault-injection tests (tests/tests/fault_*.rs: client and server killed
# at random moments, a faulty network), the authorization matrix and the fuzz
# smoke test ran above with the workspace's tests; long modes in the README.
# Schemathesis against the server's own OpenAPI document: no 5xx, no answer
# that breaks the document.
scripts/schemathesis.sh
