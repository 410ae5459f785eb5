#!/usr/bin/env bash
# Runs every test of the workspace. Installs what the tests need first, so a
# fresh Debian machine with only Rust on it passes too.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo test --workspace --all-targets "$@"
cargo test --workspace --doc
scripts/e2e.sh
