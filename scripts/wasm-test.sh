#!/usr/bin/env bash
# The field app's core as the web build runs it (issue 18): its tests for
# wasm32 (app-core/tests/web_store.rs) in headless Chromium, in a dedicated
# worker, through wasm-bindgen-test-runner and chromedriver. The runner is
# installed into the build directory at the wasm-bindgen version Cargo.lock
# pins (the two must match).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh chromium chromium-driver
rustup target add wasm32-unknown-unknown

version=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
tools="${CARGO_TARGET_DIR:-target}/tools"
runner="$tools/bin/wasm-bindgen-test-runner"
if ! "$runner" --version 2>/dev/null | grep -qF "$version"; then
  # --locked first; its lockfile can pin versions a registry mirror lacks.
  cargo install --locked wasm-bindgen-cli --version "$version" --root "$tools" \
    || cargo install wasm-bindgen-cli --version "$version" --root "$tools"
fi

export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER="$runner"
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
# Chromium's options (no sandbox: CI runs as root) are in app-core/webdriver.json.
cargo test -p beatbook-core --target wasm32-unknown-unknown --test web_store "$@"
