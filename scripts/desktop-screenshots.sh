#!/usr/bin/env bash
# The field app in a real desktop window under Xvfb (412×915, a phone's
# shape): enrolls a device against a demo server, unlocks it with the PIN
# through the window, and saves screenshots to docs/screenshots/desktop-*.png.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh xvfb xdotool imagemagick fonts-noto-cjk
cargo build -q -p beatbook-server -p beatbook-app
target="${CARGO_TARGET_DIR:-target}/debug"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

"$target/beatbook-server" --data-dir "$work/server" demo --addresses 300 --households 30 >/dev/null
"$target/beatbook-server" --data-dir "$work/server" serve --listen 127.0.0.1:18799 >/dev/null 2>&1 &
for _ in $(seq 50); do curl -sf 127.0.0.1:18799/healthz >/dev/null && break; sleep 0.2; done
export BEATBOOK_PIN=246810 BEATBOOK_PASSWORD=beatbook-demo
app=("$target/beatbook-app" --dir "$work/device" --insecure-fast-keys --fix 31.87,121.17)
"${app[@]}" enroll --server http://127.0.0.1:18799 --badge 061201 >/dev/null
"${app[@]}" sync >/dev/null 2>&1
unset BEATBOOK_PIN

Xvfb :99 -screen 0 412x915x24 -nolisten tcp >/dev/null 2>&1 &
export DISPLAY=:99
sleep 1
"${app[@]}" >/dev/null 2>&1 &
sleep 6
mkdir -p docs/screenshots
import -window root docs/screenshots/desktop-unlock.png
# Tap the PIN field, type the PIN, press Enter: a person's way in.
xdotool mousemove 206 263 click 1
sleep 0.5
xdotool type --delay 250 246810
xdotool key Return
sleep 3
import -window root docs/screenshots/desktop-home.png
xdotool mousemove 106 394 click 1   # 入户走访
sleep 1
xdotool type --delay 250 1
sleep 2
import -window root docs/screenshots/desktop-visit.png
echo "saved docs/screenshots/desktop-unlock.png and desktop-home.png"
