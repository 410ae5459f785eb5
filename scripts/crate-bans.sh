#!/usr/bin/env bash
# Fails on a forbidden dependency between crates: the layering the workspace
# keeps (schema at the bottom; server and field app side by side; the UI on
# top of the headless core; the tests over the core, never the UI). Each rule
# is a package, the dependency kinds looked at, names that must not be in its
# tree, and optionally the target whose tree is looked at (default: this
# machine's). Run from anywhere; needs cargo (and the wasm32 target's name).
set -euo pipefail
cd "$(dirname "$0")/.."

ui='dioxus|dioxus-[a-z-]+|wry|tao|webkit2gtk|beatbook-app'
io='tokio|rusqlite|reqwest|axum|tokio-postgres'

rules=(
  # package            edges        forbidden
  "beatbook-schema     normal       ${io}|beatbook-[a-z-]+"
  "beatbook-xlsform    normal       ${io}|${ui}|beatbook-store[a-z-]*|beatbook-server|beatbook-core"
  "beatbook-store      normal       ${ui}|beatbook-core|beatbook-server|beatbook-store-[a-z]+"
  "beatbook-server     normal       ${ui}|beatbook-core"
  "beatbook-core       normal,dev   ${ui}|beatbook-server|beatbook-store[a-z-]*"
  # The web build of the core: no UI either, and no tokio (no runtime there).
  "beatbook-core       normal       ${ui}|beatbook-server|beatbook-store[a-z-]*|tokio   wasm32-unknown-unknown"
  "beatbook-app        normal       beatbook-server|beatbook-store[a-z-]*"
  # The ID card reader runs inside the core and the app: headless, no runtime, no I/O crates.
  "beatbook-idcard     normal       ${ui}|${io}|beatbook-core|beatbook-server|beatbook-store[a-z-]*"
  # The UI without features (as the web build takes it): no window, no server, no runtime.
  "beatbook-web        normal       beatbook-server|beatbook-store[a-z-]*|axum|dioxus-desktop|wry|tao|clap   wasm32-unknown-unknown"
  "beatbook-tests      normal,dev   ${ui}"
)

failed=0
for rule in "${rules[@]}"; do
  read -r package edges forbidden target <<<"$rule"
  # A crate's own name is in its tree; `grep -v` keeps it out of the check.
  found=$(cargo tree -p "$package" -e "$edges" ${target:+--target "$target"} --prefix none \
    | sed -E 's/ \((\*|proc-macro)\)//g' | cut -d' ' -f1 | sort -u \
    | grep -v -x "$package" | grep -E -x "$forbidden" || true)
  if [[ -n "$found" ]]; then
    echo "forbidden dependency: $package ($edges${target:+, $target}) depends on: $(echo "$found" | tr '\n' ' ')"
    failed=1
  fi
done
if [[ $failed == 0 ]]; then
  echo "crate layering: ${#rules[@]} rules hold"
fi
exit $failed
