#!/usr/bin/env bash
# The official Python SDK (PyPI `ango`, module `imerit_ango`, pinned in requirements.txt) run
# against a real `assetdrop serve`: makes (or reuses) a venv under the cargo target dir, builds
# the CLI, and runs the pytest suite beside this script. Arguments go to pytest, e.g.
#   tests/sdk/run.sh -k storages -x
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
case "$target" in /*) ;; *) target="$repo/$target" ;; esac
venv="$target/sdk-venv"
"$repo/scripts/venv.sh" "$here/requirements.txt" "$venv"

(cd "$repo" && cargo build --locked)
export ASSETDROP_BIN="${ASSETDROP_BIN:-$target/debug/assetdrop}"
export PYTHONDONTWRITEBYTECODE=1
cd "$here"
exec "$venv/bin/python" -m pytest -p no:cacheprovider "$@"
