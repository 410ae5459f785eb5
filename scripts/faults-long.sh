#!/usr/bin/env bash
# The fault-injection tests' long mode (README "Reliability"): 200 trials each
# of fault_client_kill (the field app SIGKILLed), fault_server_kill (the server
# SIGKILLed) and fault_network (a faulty network), each writing what it found
# — trials, kills or faults, records, lost, duplicated, converged, seconds,
# machine, commit — to docs/reliability/<test>.json. Then
# `scripts/bench.sh report docs/reliability` renders the README's table.
#
#   scripts/faults-long.sh                               # 200 trials each → docs/reliability/
#   BEATBOOK_FAULT_TRIALS=20 scripts/faults-long.sh target/faults   # fewer, elsewhere
#   scripts/faults-long.sh docs/reliability fault_network            # one test again
#   BEATBOOK_FAULT_PROFILE=release scripts/faults-long.sh            # a release build instead
#
# Debug build by default, the profile of CI's short mode (scripts/test.sh). The
# beatbook-app and beatbook-server binaries the tests kill are built first and
# handed to them (BEATBOOK_APP_BIN, BEATBOOK_SERVER_BIN), so no test builds
# inside its timed trials. Each test takes minutes on 2 cores. A failing
# trial prints its seed; BEATBOOK_FAULT_SEED=<seed> replays it (fault_network's
# seeds are fixed).
set -euo pipefail
cd "$(dirname "$0")/.."

out="${1:-docs/reliability}"
[ $# -gt 0 ] && shift
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(fault_client_kill fault_server_kill fault_network)

mkdir -p "$out"
# Absolute: cargo runs each test in its package's directory.
BEATBOOK_FAULT_RESULTS="$(cd "$out" && pwd)"
export BEATBOOK_FAULT_RESULTS
export BEATBOOK_FAULT_TRIALS="${BEATBOOK_FAULT_TRIALS:-200}"

target="${CARGO_TARGET_DIR:-target}"
profile="${BEATBOOK_FAULT_PROFILE:-debug}"
case "$profile" in
  debug) flags=() ;;
  release) flags=(--release) ;;
  *) echo "BEATBOOK_FAULT_PROFILE is debug or release, not $profile" >&2; exit 2 ;;
esac
cargo build "${flags[@]}" --workspace --bins
BEATBOOK_APP_BIN="$(cd "$target/$profile" && pwd)/beatbook-app"
BEATBOOK_SERVER_BIN="$(cd "$target/$profile" && pwd)/beatbook-server"
export BEATBOOK_APP_BIN BEATBOOK_SERVER_BIN

failed=()
for t in "${tests[@]}"; do
  echo "== $t: $BEATBOOK_FAULT_TRIALS trials → $BEATBOOK_FAULT_RESULTS"
  # --workspace: the same features as scripts/test.sh, so its build is reused.
  cargo test "${flags[@]}" --workspace --test "$t" || failed+=("$t")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed: ${failed[*]} (their results files say what was lost, duplicated or did not converge)" >&2
  exit 1
fi
echo "results in $out; the README's table: scripts/bench.sh report $out"
