#!/usr/bin/env bash
# Beatbook's main job: the sync server with embedded SQLite and a demo district.
# First start seeds ./beatbook-data (or $BEATBOOK_DATA_DIR); later starts reuse it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

data="${BEATBOOK_DATA_DIR:-beatbook-data}"
listen="${BEATBOOK_LISTEN:-127.0.0.1:8700}"
server=(cargo run --quiet --release -p beatbook-server --)

cargo build --release -p beatbook-server
if [ ! -f "$data/beatbook.sqlite3" ]; then
  echo "seeding the demo district into $data ..."
  "${server[@]}" --data-dir "$data" demo
fi
exec "${server[@]}" --data-dir "$data" serve --listen "$listen"
