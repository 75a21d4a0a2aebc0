#!/usr/bin/env bash
# Upload speed as a project fills: 2,000 small files uploaded into the same project when it
# holds 0, 50,000, 100,000 and 200,000 assets (registered between rounds by cloud import), each
# round with new content so nothing is skipped as already there. Prints seconds, files/s and the
# ratio to the empty project's round; a flat curve means no per-request cost grows with the
# catalog. FILES and FILLS override the sizes (FILLS="0 20000" for a smoke run).
set -euo pipefail
# shellcheck source=benches/lib.sh
source "$(dirname "$0")/lib.sh"
bench_init
bench_build
cargo build --release --locked -q --example cloud_bench
gen=$target/release/examples/cloud_bench
hub_pid=""
work=$(mktemp -d); trap '[ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null; rm -rf "$work"' EXIT
files=${FILES:-2000}
read -r -a fills <<<"${FILLS:-0 50000 100000 200000}"

hub_start "$work/hub"
export ASSETDROP_HUB=$hub_url ASSETDROP_API_KEY=bench
project=$("$bin" project create filling)

new_files() { # folder, round: FILES text files of about 2 KB whose content no other round has
  mkdir -p "$1"
  python3 - "$1" "$2" "$files" <<'PY'
import os, sys
d, r, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(n):
    with open(os.path.join(d, f"r{r}-{i:05d}.txt"), "w") as f:
        f.write(f"round {r} file {i}\n" + os.urandom(1000).hex() + "\n")
PY
}

held=0
rows=()
for fill in "${fills[@]}"; do
  if (( fill > held )); then
    "$gen" gen $((fill - held)) "$work/list.json" "https://example.com/fill-$fill" >/dev/null
    "$bin" cloud import "$work/list.json" --project "$project" --create-batches >/dev/null
    held=$fill
  fi
  new_files "$work/round-$fill" "$fill"
  /usr/bin/time -f "%e %M" -o "$work/time" \
    "$bin" upload --project "$project" --concurrency 8 "$work/round-$fill" >/dev/null
  read -r secs kb <"$work/time"
  rows+=("$fill $secs $kb")
  rm -rf "$work/round-$fill"
done

base=$(echo "${rows[0]}" | awk '{print $2}')
printf '\n%-22s %10s %10s %16s %14s\n' "assets in the project" "seconds" "files/s" "ratio to first" "peak RSS MB"
for r in "${rows[@]}"; do
  # shellcheck disable=SC2086 # the fields of one row
  set -- $r
  printf '%-22s %10s %10.0f %16.2f %14.1f\n' "$1" "$2" \
    "$(python3 -c "print($files/max($2,0.001))")" "$(python3 -c "print($2/max($base,0.001))")" \
    "$(python3 -c "print($3/1024)")"
done
