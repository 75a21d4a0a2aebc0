#!/usr/bin/env bash
# Cloud-import benchmark: read and check a 1,000,000-entry cloud JSON file (N overrides the
# count). Prints entries/second and peak memory (from /usr/bin/time) for:
#   read   - CloudReader over the file (streamed, every rule applied, duplicates tracked)
#   check  - the same read feeding Checker: a HEAD per URL, 16 at a time (CONCURRENCY), against
#            a local server on 127.0.0.1 started here
# and, side by side as anchors, python3's json.load of the same file (whole file in memory,
# no rules) and curl --parallel -I over the same URLs (CHECK_ANCHOR=0 skips the curl run).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v /usr/bin/time >/dev/null || { apt-get install -y -qq time >/dev/null; }
n=${N:-1000000}
concurrency=${CONCURRENCY:-16}
cargo build --release --locked -q --example cloud_bench
bin=$PWD/target/release/examples/cloud_bench
server_pid=""
work=$(mktemp -d); trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"' EXIT

"$bin" serve > "$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do grep -q '^listening on ' "$work/serve.log" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/serve.log" | head -1)
[ -n "$url" ] || { echo "the test server did not start"; cat "$work/serve.log"; exit 1; }

"$bin" gen "$n" "$work/assets.json" "$url"
bytes=$(stat -c %s "$work/assets.json")
echo "file: $n entries, $(python3 -c "print(round($bytes/1e6,1))") MB; server $url"

measure() { # label, command... -> "label seconds peak_kb" and the command's output
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" > "$work/out" 2>&1 || { cat "$work/out"; exit 1; }
  sed 's/^/    /' "$work/out" >&2
  read -r secs kb < "$work/time"
  echo "$label $secs $kb"
}

results=()
results+=("$(measure "assetdrop read" "$bin" read "$work/assets.json")")
results+=("$(measure "python3 json.load" python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))), "entries")' "$work/assets.json")")
results+=("$(measure "assetdrop check" "$bin" check "$work/assets.json" "$concurrency")")
if [ "${CHECK_ANCHOR:-1}" != 0 ]; then
  python3 - "$work/assets.json" "$work/curl.cfg" <<'PY'
import json, sys
with open(sys.argv[2], "w") as out:
    for a in json.load(open(sys.argv[1])):
        out.write(f'url = "{a["data"]}"\noutput = "/dev/null"\n')
PY
  results+=("$(measure "curl parallel-HEAD" curl -sS --no-progress-meter -I --parallel --parallel-max "$concurrency" -K "$work/curl.cfg")")
fi

printf '\n%-24s %10s %14s %14s\n' "run" "seconds" "entries/s" "peak RSS MB"
for r in "${results[@]}"; do
  set -- $r
  label="$1 $2"; secs=$3; kb=$4
  printf '%-24s %10s %14.0f %14.1f\n' "$label" "$secs" "$(python3 -c "print($n/max($secs,0.001))")" "$(python3 -c "print($kb/1024)")"
done
ratio() { python3 -c "print(round($1/max($2,0.001),2))"; }
field() { echo "${results[$1]}" | awk -v f="$2" '{print $f}'; } # result, field (3 = s, 4 = KB)
echo
echo "read vs python3 json.load: time $(ratio "$(field 0 3)" "$(field 1 3)")x, peak memory $(ratio "$(field 0 4)" "$(field 1 4)")x"
if [ "${#results[@]}" -gt 3 ]; then
  echo "check vs curl parallel HEAD: time $(ratio "$(field 2 3)" "$(field 3 3)")x, peak memory $(ratio "$(field 2 4)" "$(field 3 4)")x"
fi
