#!/usr/bin/env bash
# Beatbook measured (README "Performance"): side by side with the PouchDB peer
# on the peer's own records, many devices at once, and the local figures.
# Release builds; minutes, not seconds. Nothing here runs in CI.
#
#   scripts/bench.sh                              # compare (N=10,000, 3 runs) + load (500 devices)
#   scripts/bench.sh compare                      # … → docs/bench/compare.json
#   scripts/bench.sh compare --n 50000 --runs 1 --out target/compare-50k.json   # the peer's 50k size
#   scripts/bench.sh growth                       # compare at 10,000, 50,000 (both with the peer,
#                                                 # 3 runs each) and 200,000 records (1 run), import path
#                                                 # → docs/bench/growth/ (report --growth DIR)
#   scripts/bench.sh load --devices 500
#   scripts/bench.sh load --backend postgres --instances 2
#   scripts/bench.sh scale                        # SQLite, PostgreSQL ×1, ×2 → docs/bench/scale.json
#   scripts/bench.sh profile                      # where the push's, the pull's and 50 incremental
#                                                 # syncs' CPU goes: a run sampled by `perf record`
#                                                 # → docs/bench/profile.json, and one at 50,000
#                                                 # records → docs/bench/profile-50k.json
#   scripts/bench.sh local                        # save latency, address search, photo size
#                                                 # → docs/bench/local.json (--out FILE elsewhere)
#   scripts/bench.sh report [FILE]                # the README's table from a results file:
#                                                 # docs/bench/scale.json (the default), compare.json,
#                                                 # local.json, pickers.json; docs/reliability (the
#                                                 # fault trials' long runs: scripts/faults-long.sh)
#   scripts/bench.sh report --devices docs/bench/scale.json
#                                                 # "Many devices at once": the scale run's SQLite row in full
#   scripts/bench.sh web                          # the web build on Slow 4G → docs/web-throttled.json
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

target="${CARGO_TARGET_DIR:-target}"
peer_src="${BEATBOOK_PEER_SRC:-../shared/peers/pouchdb}"
peer="${BEATBOOK_PEER_DIR:-$target/peer-pouchdb}"

prepare_peer() {
  command -v node >/dev/null || { echo "the PouchDB peer needs Node.js 20 (node not found)" >&2; exit 1; }
  if [ ! -d "$peer/node_modules/pouchdb-server" ]; then
    echo "preparing the PouchDB peer in $peer (a copy: $peer_src is read-only)"
    rm -rf "$peer"
    mkdir -p "$(dirname "$peer")"
    cp -r "$peer_src" "$peer"
    chmod -R u+w "$peer"
    (cd "$peer" && npm install --no-audit --no-fund --loglevel=error)
  fi
}

build() {
  cargo build --release -p beatbook-server -p beatbook-tests --bin beatbook-server --bin beatbook-bench
}

machine() {
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(free -g | awk '/Mem:/{print $2}') GiB RAM"
}

what="${1:-all}"
[ $# -gt 0 ] && shift
case "$what" in
  compare)
    prepare_peer; build; machine
    "$target/release/beatbook-bench" compare --peer "$peer" "$@" ;;
  load)
    build; machine
    "$target/release/beatbook-bench" load "$@" ;;
  scale)
    build; machine
    # A PostgreSQL cluster of its own (loopback, removed afterwards), so that
    # the cluster's CPU time is this run's alone.
    pg_tmp="$(cd "$target" && pwd)/bench-pg"
    mkdir -p "$pg_tmp"
    trap 'TMPDIR="$pg_tmp" scripts/postgres.sh stop' EXIT
    BEATBOOK_TEST_POSTGRES=$(TMPDIR="$pg_tmp" scripts/postgres.sh ensure)
    export BEATBOOK_TEST_POSTGRES
    "$target/release/beatbook-bench" scale "$@" ;;
  report)
    build
    [ $# -gt 0 ] || set -- docs/bench/scale.json
    "$target/release/beatbook-bench" report "$@" ;;
  growth)
    # How the costs grow with the backlog, in one sitting: 3 runs of each
    # system at 10,000 and 50,000 records (medians), Beatbook once at 200,000.
    prepare_peer; build; machine
    rm -f docs/bench/growth/*.json
    for n in 10000 50000 200000; do
      extra=(--runs 3); [ "$n" -gt 50000 ] && extra=(--runs 1 --skip-peer)   # the peer's 200k run takes as long as all the rest
      "$target/release/beatbook-bench" compare --peer "$peer" --n "$n" --write import \
        "${extra[@]}" --out "docs/bench/growth/compare-N$n.json" "$@" >/dev/null
    done
    "$target/release/beatbook-bench" report --growth docs/bench/growth ;;
  profile)
    scripts/install-deps.sh linux-perf
    prepare_peer; build; machine
    if [ $# -gt 0 ]; then
      "$target/release/beatbook-bench" profile --peer "$peer" "$@"
    else
      # 10,000 records, then 50,000 for how the incremental sync grows.
      "$target/release/beatbook-bench" profile --peer "$peer"
      "$target/release/beatbook-bench" profile --peer "$peer" --n 50000 --out docs/bench/profile-50k.json
      "$target/release/beatbook-bench" report docs/bench/profile.json --incremental-growth docs/bench/profile-50k.json
    fi ;;
  local)
    build; machine
    "$target/release/beatbook-bench" local "$@" ;;
  web)
    # The web build on a paced Slow 4G link → docs/web-throttled.json. Debug
    # server (the e2e harness's); the web build itself is web-release.
    machine
    scripts/install-deps.sh chromium fonts-noto-cjk fonts-dejavu-core
    (cd tests/e2e && npm install --no-audit --no-fund --silent)
    cargo build -q -p beatbook-server
    scripts/web-build.sh
    node --test tests/e2e/web-throttled.bench.mjs ;;
  all)
    prepare_peer; build; machine
    "$target/release/beatbook-bench" compare --peer "$peer" "$@"
    "$target/release/beatbook-bench" load ;;
  *)
    echo "usage: scripts/bench.sh [compare|growth|load|scale|profile|report|local|web|all] [options]" >&2; exit 2 ;;
esac
