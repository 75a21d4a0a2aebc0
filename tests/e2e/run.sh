#!/usr/bin/env bash
# The desktop app end to end: builds it (debug), the CLI and the stand-in of Ango Hub's API
# (examples/ango_standin.rs), makes (or reuses) a venv with selenium under the cargo target dir,
# and runs the pytest suite beside this script. The suite starts its own X server (Xvfb) and
# Debian's WebKitWebDriver, which launches the app. Screenshots of every view land in
# target/e2e-screenshots (ASSETDROP_SCREENSHOTS to change). Arguments go to pytest, e.g.
#   tests/e2e/run.sh -k builder -x
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
case "$target" in /*) ;; *) target="$repo/$target" ;; esac
venv="$target/e2e-venv"

for tool in Xvfb WebKitWebDriver xdotool; do
  command -v "$tool" >/dev/null || { echo "error: $tool is missing; run scripts/deps.sh" >&2; exit 2; }
done
/usr/bin/python3 -c 'import gi' 2>/dev/null || { echo "error: python3-gi is missing; run scripts/deps.sh" >&2; exit 2; }

"$repo/scripts/venv.sh" "$here/requirements.txt" "$venv"

# --bins as well: naming an example alone would build nothing else.
(cd "$repo" && cargo build --locked -p assetdrop -p assetdrop-desktop --bins --example ango_standin)
export ASSETDROP_BIN="${ASSETDROP_BIN:-$target/debug/assetdrop}"
export ASSETDROP_ANGO_STANDIN_BIN="${ASSETDROP_ANGO_STANDIN_BIN:-$target/debug/examples/ango_standin}"
export ASSETDROP_DESKTOP_BIN="${ASSETDROP_DESKTOP_BIN:-$target/debug/assetdrop-desktop}"
export PYTHONDONTWRITEBYTECODE=1
cd "$here"
exec "$venv/bin/python" -m pytest -p no:cacheprovider "$@"
