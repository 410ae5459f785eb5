#!/usr/bin/env bash
# Installs the system packages Beatbook's build and tests need (Debian).
# Idempotent and quick when everything is already there.
set -euo pipefail

# What every build needs: a C toolchain (bundled SQLCipher), OpenSSL headers
# (SQLCipher's crypto), clang (SQLCipher compiled for wasm32 by the core's web
# build), and the WebKitGTK stack of the Dioxus desktop window.
# Callers add what their step needs (e.g. a browser for UI tests) as arguments.
base=(build-essential pkg-config libssl-dev clang libwebkit2gtk-4.1-dev libgtk-3-dev libxdo-dev libsoup-3.0-dev)

need=()
for pkg in "${base[@]}" "$@"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done

if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}"
fi
