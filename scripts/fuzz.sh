#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz: libFuzzer + AddressSanitizer) of the
# protocol decoding and the validators, one target per entry point
# (fuzz/fuzz_targets/; the code they call is fuzz/src/targets.rs).
# CI runs the same entry points under proptest instead (tests/tests/fuzz_smoke.rs).
#
#   scripts/fuzz.sh                    # every target, 60 s each
#   scripts/fuzz.sh push_request 600   # one target, 10 minutes
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked || cargo install cargo-fuzz
# cargo-fuzz passes nightly-only flags (-Zsanitizer=address, …); on the stable
# toolchain RUSTC_BOOTSTRAP lets rustc take them. The ASan runtime ships with
# the x86_64 Linux standard library.
export RUSTC_BOOTSTRAP=1

secs="${2:-60}"
targets="${1:-$(cargo fuzz list)}"
for t in $targets; do
  echo "== fuzzing $t for ${secs}s"
  mkdir -p "fuzz/corpus/$t"
  cargo fuzz run "$t" "fuzz/corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1
done
