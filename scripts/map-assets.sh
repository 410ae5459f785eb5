#!/usr/bin/env bash
# Installs the map renderer the field app and the review pages draw with —
# MapLibre GL JS and the PMTiles reader (both BSD-3-Clause) — from the npm
# registry at pinned versions, and copies the files the pages load into one
# directory. Third-party code: never committed (the directory is git-ignored)
# and never fetched from a CDN at run time; the app and the server serve it
# from here (`--map-assets DIR` / BEATBOOK_MAP_ASSETS; this place by default).
# Quick when the files are already there. Prints the directory.
#
# Directory: $BEATBOOK_MAP_ASSETS, else map-assets/ at the repository's root.
set -euo pipefail
cd "$(dirname "$0")/.."
maplibre=6.17.0
pmtiles=4.5.0
dest=$(realpath -m "${BEATBOOK_MAP_ASSETS:-map-assets}")
stamp="maplibre-gl@$maplibre pmtiles@$pmtiles"
# MapLibre 6 is ES modules: the page imports maplibre-gl.mjs, which starts its
# worker from maplibre-gl-worker.mjs beside it.
files=(maplibre-gl.mjs maplibre-gl-worker.mjs maplibre-gl.css pmtiles.js)

if [[ "$(cat "$dest/VERSIONS" 2>/dev/null)" == "$stamp" ]] && (cd "$dest" && ls "${files[@]}" >/dev/null 2>&1); then
  echo "$dest"
  exit 0
fi
command -v npm >/dev/null || scripts/install-deps.sh nodejs npm >&2
work="$dest/npm"
mkdir -p "$work"
cat >"$work/package.json" <<JSON
{ "name": "beatbook-map-assets", "private": true,
  "dependencies": { "maplibre-gl": "$maplibre", "pmtiles": "$pmtiles" } }
JSON
echo "map-assets: installing $stamp from the npm registry" >&2
if ! (cd "$work" && npm install --no-audit --no-fund --silent --omit=dev >&2); then
  echo "map-assets: npm could not install $stamp — check the network or npm's registry setting" >&2
  exit 1
fi
for f in maplibre-gl.mjs maplibre-gl-worker.mjs maplibre-gl.css; do cp "$work/node_modules/maplibre-gl/dist/$f" "$dest/"; done
cp "$work/node_modules/pmtiles/dist/pmtiles.js" "$dest/"
echo "$stamp" >"$dest/VERSIONS"
echo "$dest"
