# Helpers shared by the benchmark scripts in this folder; sourced, not run.
#   bench_init              cd to the repo; sets repo, target (the cargo target dir, absolute)
#                           and makes sure /usr/bin/time exists
#   bench_build             release build of the CLI (or \$BENCH_BIN); sets bin
#   bench_sdk_venv          the official SDK's venv, shared with tests/sdk/run.sh; sets py
#   hub_start ROOT          `assetdrop serve` on 127.0.0.1 (API key "bench"); sets hub_url, hub_pid
#   make_small_files DIR N  N different 100 KB UTF-8 text files
#   make_big_text FILE MB   MB MiB of text that does not compress (base64 of random bytes)
#   timed CMD...            one run under /usr/bin/time; sets T_SECS, T_KB
#   best_of N FN ARGS...    N calls of FN (each runs `timed` once); sets B_SECS, B_KB
# The variables set here are read by the scripts that source this file:
# shellcheck shell=bash disable=SC2034

bench_init() {
  cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
  repo=$PWD
  export LC_ALL=C # "." as the decimal point of $EPOCHREALTIME
  target="${CARGO_TARGET_DIR:-$repo/target}"
  case "$target" in /*) ;; *) target="$repo/$target" ;; esac
  if [[ ! -x /usr/bin/time ]]; then
    local sudo=""
    [[ $(id -u) -ne 0 ]] && sudo=sudo
    $sudo apt-get install -y -qq time >/dev/null 2>&1 ||
      { $sudo apt-get update -qq && $sudo apt-get install -y -qq time >/dev/null; }
  fi
}

bench_build() { # BENCH_BIN names a binary built already (benches/compare.sh passes its copy)
  if [[ -n "${BENCH_BIN:-}" ]]; then
    bin=$BENCH_BIN
    return
  fi
  cargo build --release --locked -q
  bin=$target/release/assetdrop
}

bench_sdk_venv() {
  "$repo/scripts/venv.sh" "$repo/tests/sdk/requirements.txt" "$target/sdk-venv"
  py=$target/sdk-venv/bin/python
}

hub_start() { # root folder
  mkdir -p "$1"
  "$bin" serve --root "$1" --listen 127.0.0.1:0 --api-key bench >"$1.log" 2>&1 &
  hub_pid=$!
  local _
  for _ in $(seq 100); do
    grep -q '^listening on ' "$1.log" 2>/dev/null && break
    sleep 0.1
  done
  hub_url=$(sed -n 's/^listening on //p' "$1.log" | head -1)
  [[ -n "$hub_url" ]] || { echo "error: the hub did not start:" >&2; cat "$1.log" >&2; return 1; }
}

make_small_files() { # folder, count
  mkdir -p "$1"
  python3 - "$1" "$2" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    with open(os.path.join(d, f"f{i:04d}.txt"), "w") as f:
        # valid UTF-8 text, 100 KB, different per file
        line = (f"file {i} " + "lorem ipsum dolor sit amet " * 3 + "\n")
        f.write((line * (102400 // len(line) + 1))[:102400])
PY
}

make_big_text() { # file, MiB
  python3 - "$1" "$2" <<'PY'
import base64, os, sys
# Text (so it validates as a .txt asset) that does not compress: base64 of random bytes.
with open(sys.argv[1], "wb") as f:
    for _ in range(int(sys.argv[2])):
        f.write(base64.encodebytes(os.urandom(790000))[:1048576])
PY
}

# Runs CMD once under /usr/bin/time, its stdout to $BENCH_OUT (default /dev/null) and its
# stderr to a scratch file shown when it fails (an exit status not in $BENCH_OK, default "0").
# Sets T_SECS (wall, ms) and T_KB (peak RSS, %M). When stdout goes to a file and has a line
# "elapsed SECONDS", that replaces the wall time: for runs timed inside the process (the SDK's,
# around its own call only).
timed() {
  local tf err rc=0 t0 t1
  tf=$(mktemp) err=$(mktemp)
  t0=$EPOCHREALTIME
  /usr/bin/time -f '%e %M' -o "$tf" "$@" >"${BENCH_OUT:-/dev/null}" 2>"$err" || rc=$?
  t1=$EPOCHREALTIME
  if [[ " ${BENCH_OK:-0} " != *" $rc "* ]]; then
    echo "error: exit status $rc from: $*" >&2
    tail -n 20 "$err" >&2
    rm -f "$tf" "$err"
    return 1
  fi
  read -r _ T_KB < <(tail -n 1 "$tf")
  # Wall time to the millisecond (%e has only hundredths)
  T_SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  rm -f "$tf" "$err"
  if [[ -f "${BENCH_OUT:-}" ]]; then
    local inner
    inner=$(sed -n 's/^elapsed //p' "$BENCH_OUT" | tail -n 1)
    [[ -n "$inner" ]] && T_SECS=$(awk -v s="$inner" 'BEGIN { printf "%.3f", s }')
  fi
  return 0
}

# Calls FN ARGS... N times; FN prepares what it needs and runs `timed` once. Sets B_SECS to the
# fastest run's time and B_KB to that run's peak RSS.
best_of() {
  local n=$1 i
  shift
  B_SECS="" B_KB=""
  for ((i = 0; i < n; i++)); do
    "$@"
    if [[ -z "$B_SECS" ]] || awk -v a="$T_SECS" -v b="$B_SECS" 'BEGIN { exit !(a < b) }'; then
      B_SECS=$T_SECS B_KB=$T_KB
    fi
  done
}
