#!/usr/bin/env bash
# Installs what building and testing assetdrop needs on Debian/Ubuntu: the C toolchain for
# bundled SQLite, WebKitGTK for the desktop app (and Xvfb/WebKitWebDriver to test it), and the
# media tools the test fixtures are made with. Idempotent and quiet
# when everything is present.
set -euo pipefail

need=()
for pair in cc:build-essential pkg-config:pkg-config lame:lame ffmpeg:ffmpeg sox:sox opusenc:opus-tools \
            oggenc:vorbis-tools flac:flac python3:python3 curl:curl \
            node:nodejs npm:npm openssl:openssl; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
done
# The desktop app: WebKitGTK and friends to build it (Tauri's Linux prerequisites); Xvfb,
# WebKitWebDriver, xdotool and GTK for Python to drive it in a real window in the tests.
for pkg in libwebkit2gtk-4.1-dev libssl-dev libxdo-dev libayatana-appindicator3-dev librsvg2-dev \
           xvfb xauth webkit2gtk-driver xdotool python3-gi; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing: ${need[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    -o DPkg::Lock::Timeout=600 "${need[@]}" >/dev/null
fi
if ! python3 -m pip --version >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    -o DPkg::Lock::Timeout=600 python3-pip python3-venv >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is missing: install Rust 1.85 or newer (https://rustup.rs), then run this again" >&2
  exit 2
fi
