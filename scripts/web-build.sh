#!/usr/bin/env bash
# The field app's web build (issue 18) into ${CARGO_TARGET_DIR:-target}/web/m/,
# which the sync server serves under /m/ (BEATBOOK_WEB_DIR): the app and the
# core for wasm32 (profile web-release: small), wasm-bindgen's loader, the
# page with Dioxus liveview's interpreter, the worker, the manifest and its
# icons, and the service worker stamped with this build's hash. Prints the
# compressed download (wasm + JS + CSS) and how long the build took.
# PROFILE=dev builds unoptimized (faster; large).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
scripts/install-deps.sh imagemagick fonts-dejavu-core
rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true

target="${CARGO_TARGET_DIR:-target}"
profile="${PROFILE:-web-release}"
version=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
tools="$target/tools"
if ! "$tools/bin/wasm-bindgen" --version 2>/dev/null | grep -qF "$version"; then
  # --locked first; its lockfile can pin versions a registry mirror lacks.
  cargo install --locked wasm-bindgen-cli --version "$version" --root "$tools" \
    || cargo install wasm-bindgen-cli --version "$version" --root "$tools"
fi

# dioxus-liveview runs in the worker (its `run` over postMessage), but its
# manifest asks tokio-stream for `net`, which tokio refuses on wasm32 and
# which liveview never uses. The build takes the published crate as it is,
# minus that one feature, from a copy in the build directory; Cargo.lock is
# put back afterwards (a patch rewrites its entry).
cargo fetch -q
lv_version=$(grep -A1 '^name = "dioxus-liveview"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
lv_src=$(find "${CARGO_HOME:-$HOME/.cargo}/registry/src" -maxdepth 2 -type d -name "dioxus-liveview-$lv_version" | head -1)
[ -n "$lv_src" ] || { echo "error: dioxus-liveview $lv_version is not in cargo's registry cache: run cargo fetch" >&2; exit 1; }
lv="$(realpath -m "$target/web-deps/dioxus-liveview")"
if [ "$(cat "$lv/.beatbook-copy-of" 2>/dev/null)" != "$lv_src" ]; then
  rm -rf "$lv" && mkdir -p "$(dirname "$lv")" && cp -r "$lv_src" "$lv"
  sed -i '/^\[dependencies.tokio-stream\]/,/^\[/{/^features = \["net"\]$/d}' "$lv/Cargo.toml"
  echo "$lv_src" >"$lv/.beatbook-copy-of"
fi
lock=$(mktemp)
cp Cargo.lock "$lock"
trap 'cp "$lock" Cargo.lock; rm -f "$lock"' EXIT
cargo build -p beatbook-web --lib --target wasm32-unknown-unknown --profile "$profile" \
  --config "patch.crates-io.dioxus-liveview.path='$lv'"
cp "$lock" Cargo.lock
cargo build -p beatbook-web --bin beatbook-web-glue
[ "$profile" = dev ] && dir=debug || dir=$profile

out="$target/web/m"
rm -rf "$out" && mkdir -p "$out"
"$tools/bin/wasm-bindgen" --target web --no-typescript --out-dir "$out" \
  "$target/wasm32-unknown-unknown/$dir/beatbook_web.wasm"
"$target/debug/beatbook-web-glue" web/static/index.html "$out/index.html"
cp web/static/{shim.js,worker.js,manifest.webmanifest} "$out/"
for size in 192 512; do
  convert -size "${size}x${size}" xc:'#1d4ed8' -fill white -gravity center \
    -font DejaVu-Sans-Bold -pointsize $((size * 11 / 20)) -annotate +0+0 'B' \
    -depth 8 -strip "$out/icon-$size.png"
done
# The map's renderer (scripts/map-assets.sh, from npm) and its drawing under
# map/, cached with the rest so the map works offline.
map_assets=$(scripts/map-assets.sh)
mkdir -p "$out/map"
cp "$map_assets"/{maplibre-gl.mjs,maplibre-gl-worker.mjs,maplibre-gl.css,pmtiles.js} assets/map/beatbook-map.mjs "$out/map/"
# The service worker caches every file of the build (wasm-bindgen's snippets
# have hashed names) under a name that changes with any of them.
files=$(cd "$out" && find . -type f | sed 's|^\./||' | sort)
hash=$({ (cd "$out" && cat $files); cat web/static/sw.js; } | sha256sum | cut -c1-16)
shell=$(printf "'./'"; for f in $files; do [ "$f" = index.html ] || printf ", '%s'" "$f"; done)
sed -e "s/__BUILD_HASH__/$hash/" -e "s|'__SHELL__'|$shell|" web/static/sw.js >"$out/sw.js"

gz() { gzip -9 -c "$@" | wc -c; }
wasm=$(gz "$out/beatbook_web_bg.wasm")
js=$(find "$out" -name '*.js' ! -name sw.js ! -path "$out/map/*" -exec cat {} + | gzip -9 -c | wc -c)
map=$(cat "$out"/map/* | gzip -9 -c | wc -c)
# The CSS is inside the wasm (the UI's stylesheet) and the page; the page:
html=$(gz "$out/index.html")
echo "web build $hash in $out ($((SECONDS - started)) s, profile $profile)"
echo "the map's renderer, gzip -9: $((map / 1024)) KiB (cached with the app; not in the figures below)"
echo "download, gzip -9: wasm $((wasm / 1024)) KiB + JS $((js / 1024)) KiB + page with CSS $((html / 1024)) KiB = $(((wasm + js + html) / 1024)) KiB"
# The figures as data (BEATBOOK_WEB_REPORT=docs/web-build.json keeps them for the README).
report="${BEATBOOK_WEB_REPORT:-$target/web/build.json}"
cat >"$report" <<JSON
{
  "what": "scripts/web-build.sh: the field app's web build; download = gzip -9 of what a phone fetches on first visit",
  "date": "$(date -u +%Y-%m-%d)",
  "commit": "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)",
  "machine": {"cpus": $(nproc), "rustc": "$(rustc --version)"},
  "profile": "$profile",
  "build_seconds": $((SECONDS - started)),
  "hash": "$hash",
  "bytes": {"wasm": $(stat -c %s "$out/beatbook_web_bg.wasm"), "wasm_gzip": $wasm, "js_gzip": $js, "page_gzip": $html, "total_gzip": $((wasm + js + html))}
}
JSON
echo "figures: $report"
