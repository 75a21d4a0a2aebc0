#!/usr/bin/env bash
# Upload benchmark: assetdrop vs curl -T, same bytes, same hub, same run.
#   1,000 x 100 KB files, then one 1 GiB file (SIZE_MB overrides the big file's size).
# Prints wall time, throughput and the client's peak memory (from /usr/bin/time) side by side.
# curl gets its upload URLs before its clock starts, so it measures only the bytes; assetdrop's
# time includes validating every file, reserving, uploading and registering the assets.
set -euo pipefail
# shellcheck source=benches/lib.sh
source "$(dirname "$0")/lib.sh"
bench_init
bench_build
hub_pid=""
work=$(mktemp -d); trap '[ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null; rm -rf "$work"' EXIT
big_mb=${SIZE_MB:-1024}
small_n=${SMALL_N:-1000}

make_small_files "$work/small" "$small_n"
make_big_text "$work/big.txt" "$big_mb"

hub_start "$work/hub"
url=$hub_url
export ASSETDROP_HUB=$url ASSETDROP_API_KEY=bench
project=$("$bin" project create bench)

measure() { # label, command...
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" > /dev/null
  read -r secs kb < "$work/time"
  echo "$label $secs $kb"
}

curl_many() { # dir, config path: a curl config uploading every file to a fresh signed URL
  local cfg=$2; : > "$cfg"
  for f in "$1"/*; do
    u=$(curl -s -H "apikey: bench" "$url/v2/getUploadUrl?name=$(basename "$f")-$RANDOM$RANDOM&project=$project" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["uploadUrl"])')
    printf 'upload-file = "%s"\nurl = "%s"\noutput = "/dev/null"\n' "$f" "$u" >> "$cfg"
  done
}

small_bytes=$(du -sb "$work/small" | cut -f1)
big_bytes=$(stat -c %s "$work/big.txt")
cfg_small=$work/curl-small.cfg; curl_many "$work/small" "$cfg_small"
mkdir -p "$work/bigd"; ln "$work/big.txt" "$work/bigd/big.txt"
cfg_big=$work/curl-big.cfg; curl_many "$work/bigd" "$cfg_big"

results=()
results+=("$(measure "assetdrop small" "$bin" upload --project "$project" --concurrency 8 "$work/small")")
results+=("$(measure "curl small" curl -sS --fail --no-progress-meter --parallel --parallel-max 8 -K "$cfg_small")")
results+=("$(measure "assetdrop big" "$bin" upload --project "$project" "$work/big.txt")")
results+=("$(measure "curl big" curl -sS --fail --no-progress-meter -K "$cfg_big")")

printf '\n%-28s %10s %12s %14s\n' "run" "seconds" "MB/s" "peak RSS MB"
for r in "${results[@]}"; do
  # shellcheck disable=SC2086 # the fields of one result, split on spaces
  set -- $r
  what="$1 $2"; secs=$3; kb=$4
  bytes=$small_bytes; [ "$2" = big ] && bytes=$big_bytes
  printf '%-28s %10s %12.1f %14.1f\n' "$what" "$secs" "$(python3 -c "print($bytes/1e6/max($secs,0.001))")" "$(python3 -c "print($kb/1024)")"
done
a_small=$(echo "${results[0]}" | awk '{print $3}'); c_small=$(echo "${results[1]}" | awk '{print $3}')
a_big=$(echo "${results[2]}" | awk '{print $3}'); c_big=$(echo "${results[3]}" | awk '{print $3}')
echo
echo "ratio assetdrop/curl time: small files $(python3 -c "print(round($a_small/$c_small,2))")x, 1 file of ${big_mb} MiB $(python3 -c "print(round($a_big/$c_big,2))")x"
total=$("$bin" assets list --project "$project" --limit 1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
echo "assets registered by assetdrop: $total (expected $((small_n + 1)))"
