#!/usr/bin/env bash
# Beatbook's main job: the sync server with embedded SQLite and a demo
# district, and the field app. First start seeds ./beatbook-data (or
# $BEATBOOK_DATA_DIR); later starts reuse it.
#
# The field app's web build is at http://127.0.0.1:8700/m/ (phones: add it to
# the home screen). The field app opens as a desktop window when a display is available;
# without one (a server, CI, SSH) it is served to a browser on 127.0.0.1:8780
# instead, at the address it prints (which holds a key made for that launch).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh curl

data="${BEATBOOK_DATA_DIR:-beatbook-data}"
listen="${BEATBOOK_LISTEN:-127.0.0.1:8700}"
cargo build --release -p beatbook-server -p beatbook-app
# The map renderer (MapLibre GL, pmtiles; npm, pinned), where the app and the
# server look for it by default.
scripts/map-assets.sh >/dev/null
bin="${CARGO_TARGET_DIR:-target}/release"
# The field app for phones, served by the sync server under /m/.
scripts/web-build.sh
web=$(realpath "${CARGO_TARGET_DIR:-target}/web/m")

if [ ! -f "$data/beatbook.sqlite3" ]; then
  echo "seeding the demo district into $data ..."
  "$bin/beatbook-server" --data-dir "$data" demo
fi
BEATBOOK_WEB_DIR="$web" "$bin/beatbook-server" --data-dir "$data" serve --listen "$listen" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://$listen/healthz" >/dev/null && break; sleep 0.1; done

echo
echo "sync server:    http://$listen  (supervisor review: http://$listen/review/)"
echo "phone (web):    http://$listen/m/  (open it, then add to home screen; works offline after the first visit)"
echo "field app:      enroll with server http://$listen, badge 061201, password beatbook-demo, then set a PIN"
device="${BEATBOOK_DEVICE_DIR:-$data/device}"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  BEATBOOK_SERVER="http://$listen" "$bin/beatbook-app" --dir "$device" --fix 31.87,121.17
else
  echo "no display: serving the field app to a browser"
  "$bin/beatbook-app" --dir "$device" --fix 31.87,121.17 liveview --listen 127.0.0.1:8780 --server "http://$listen"
fi
