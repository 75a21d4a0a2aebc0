#!/usr/bin/env bash
# Makes (or reuses) a Python venv from a pinned requirements file: `scripts/venv.sh REQS DIR`.
# The venv is rebuilt from scratch whenever the requirements change. Installs python3-venv via
# apt when the system Python cannot make venvs (Debian splits it out).
set -euo pipefail
reqs=${1:?usage: venv.sh REQUIREMENTS VENV_DIR}
venv=${2:?usage: venv.sh REQUIREMENTS VENV_DIR}
python="${PYTHON:-python3}"
if ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-pip
  else
    echo "error: $python cannot make a venv; install python3-venv (Debian/Ubuntu)" >&2
    exit 2
  fi
fi
stamp="$venv/requirements.txt"
if [[ ! -x "$venv/bin/python" ]] || ! cmp -s "$reqs" "$stamp"; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$reqs"
  cp "$reqs" "$stamp"
fi
