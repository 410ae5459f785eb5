#!/usr/bin/env bash
# Runs every test of the workspace. Installs what the tests need first, so a
# fresh Debian machine with only Rust on it passes too.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo test --workspace --all-targets "$@"
cargo test --workspace --doc
scripts/e2e.sh

# ---- Reliability, short modes (issue 7) ----
# The fault-injection tests (tests/tests/fault_*.rs: client and server killed
# at random moments, a faulty network), the authorization matrix and the fuzz
# smoke test ran above with the workspace's tests; long modes in the README.
# Schemathesis against the server's own OpenAPI document: no 5xx, no answer
# that breaks the document.
scripts/schemathesis.sh
