#!/usr/bin/env bash
# The main job: builds the assetdrop desktop app and opens it in local mode — the hub runs inside
# the app with its data in the OS data folder (or ASSETDROP_ROOT), a "Default project" is ready,
# and files dragged onto the window can be uploaded at once. Installs what it needs.
# Without a screen (a server, a container), the app runs on a virtual X screen; the script says
# how to take a screenshot of it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo build --release --locked -p assetdrop-desktop
app=target/release/assetdrop-desktop
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  fd_file=$(mktemp)
  Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$fd_file" 2>/dev/null &
  xvfb=$!
  trap 'kill "$xvfb" 2>/dev/null || true; rm -f "$fd_file"' EXIT
  for _ in $(seq 100); do [ -s "$fd_file" ] && break; sleep 0.1; done
  export DISPLAY=":$(tr -d '\n' <"$fd_file")"
  echo "no screen found: the app runs on the virtual screen $DISPLAY"
  echo "  see it with:  DISPLAY=$DISPLAY import -window root assetdrop.png"
fi
export GSETTINGS_BACKEND=${GSETTINGS_BACKEND:-memory}
echo "starting the assetdrop desktop app (local mode); close the window or press Ctrl-C to stop"
"$app"
