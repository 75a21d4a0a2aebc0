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
python="${PYTHON:-python3}"

if ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
  # Debian splits venv/ensurepip out of python3; install it when we can.
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-pip
  else
    echo "error: $python cannot make a venv; install python3-venv (Debian/Ubuntu)" >&2
    exit 2
  fi
fi

# Reuse the venv while requirements.txt is unchanged; rebuild it from scratch otherwise.
stamp="$venv/requirements.txt"
if [[ ! -x "$venv/bin/python" ]] || ! cmp -s "$here/requirements.txt" "$stamp"; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$stamp"
fi

(cd "$repo" && cargo build --locked)
export ASSETDROP_BIN="${ASSETDROP_BIN:-$target/debug/assetdrop}"
export PYTHONDONTWRITEBYTECODE=1
cd "$here"
exec "$venv/bin/python" -m pytest -p no:cacheprovider "$@"
