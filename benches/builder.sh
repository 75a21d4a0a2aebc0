#!/usr/bin/env bash
# Asset-builder benchmark: our renderer vs the official SDK's, same rows, same template, same run.
#   ROWS (default 100,000) rows rendered by `assetdrop build --dry-run --json` (release build,
#   the JSON array written to /dev/null) and by the official SDK's AssetBuilderUploader
#   (imerit_ango, pinned in tests/sdk/requirements.txt: read_file + prepare_assets, the part of
#   upload_files_with_asset_builder that turns rows into assets); then BIG_ROWS (default
#   1,000,000; 0 skips it) rows through ours alone, for its peak memory. With BENCH_RESULTS set,
#   appends "builder ROWS OURS_S OURS_KB SDK_S SDK_KB" to that file (benches/compare.sh reads it).
# Each timing is the best of RUNS (default 3). Ours is timed as a whole process (start-up, the
# embedded hub, reading, rendering, JSON out); the SDK only inside Python around its two calls,
# so start-up and imports are not counted against it. Peak memory is /usr/bin/time's %M.
# The SDK venv is tests/sdk/run.sh's (target/sdk-venv, made by scripts/venv.sh when missing).
set -euo pipefail
# shellcheck source=benches/lib.sh
source "$(dirname "$0")/lib.sh"
bench_init
rows=${ROWS:-100000}
big_rows=${BIG_ROWS:-1000000}
runs=${RUNS:-3}
bench_build
# The SDK venv, the one tests/sdk/run.sh makes and reuses.
bench_sdk_venv

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

# The template and its config (reference §8.3 keys), shared by both builders.
cat > "$work/template.html" <<'HTML'
<article class="card">
  <h1>{{title}}</h1>
  <img src="{{photo}}" alt="photo" width="320">
  <p>{{body}}</p>
  <a href="{{link}}">{{label}}</a>
  <table><tr><th>Score</th><td>{{score}}</td></tr></table>
</article>
HTML
cat > "$work/config.json" <<'JSON'
{"name": "bench", "description": "", "selectedExternalId": "id", "batchColumn": "batch",
 "dataConfig": {"id": {"type": "text"}, "title": {"type": "text", "includeInExport": true},
   "photo": {"type": "image", "storage": "Public"}, "body": {"type": "text"},
   "link": {"type": "link"}, "label": {"type": "text"},
   "score": {"type": "text", "includeInExport": true}, "batch": {"type": "text"}},
 "preLabelConfig": {"tags": {"cla": {"schemaId": "s-tags", "title": "Tags", "tool": "checkbox",
   "multiple": false}, "value": "tags"}}}
JSON

# Varied rows: non-ASCII, markup to escape, quoted commas and line breaks, URLs with queries.
"$py" - "$work" "$rows" "$big_rows" <<'PY'
import csv, sys
work, n, big = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
words = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor".split()
def row(i):
    body = " ".join(words[(i + k) % len(words)] for k in range(30))
    if i % 7 == 0:
        body += ' with <b>markup</b> & "quotes", commas'
    if i % 11 == 0:
        body += "\nand a second line"
    return [f"row-{i}", f"Title {i} — Zoë {i % 97}", f"https://images.example.com/{i}.png?w=640&h=480",
            body, f"https://example.com/items/{i}", f"Item {i}", str(i % 100),
            ["train", "validation", "train;test"][i % 3], ["a;b", "c", ""][i % 3]]
header = ["id", "title", "photo", "body", "link", "label", "score", "batch", "tags"]
for name, count in (("rows.csv", n), ("big.csv", big)):
    with open(f"{work}/{name}", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for i in range(count):
            w.writerow(row(i))
PY

ours_once() { # table
  timed "$bin" --root "$work/hub" build "$1" \
    --template "$work/template.html" --config "$work/config.json" --dry-run --json
}
ours() { # table → "seconds peak_kb", best time of $runs
  best_of "$runs" ours_once "$1"
  echo "$B_SECS $B_KB"
}

sdk_once() { # table; the SDK prints "elapsed SECONDS" and the number of assets
  BENCH_OUT=$work/sdk.out timed "$py" - "$1" "$work/template.html" "$work/config.json" <<'PY'
import json, sys, time
from imerit_ango.modules.asset_builder_uploader import AssetBuilderUploader
table, html, config = sys.argv[1:4]
template = json.load(open(config))
template["template"] = open(html).read()
# The key the SDK reads the batch column from (its saved templates say batchColumn), so it
# does the same batch splitting as ours.
template["batch_column_name"] = template["batchColumn"]
start = time.perf_counter()
uploader = AssetBuilderUploader()
uploader.read_file(table, {"delimiter": ","})
assets, _ = uploader.prepare_assets(template, [])
print("elapsed", time.perf_counter() - start)
print("assets", len(assets))
PY
}
sdk() { # table → "seconds peak_kb assets", best time of $runs
  best_of "$runs" sdk_once "$1"
  echo "$B_SECS $B_KB $(sed -n 's/^assets //p' "$work/sdk.out")"
}

# Both render every row: ours prints one asset per row, the SDK returns one per row.
got=$("$bin" --root "$work/hub" build "$work/rows.csv" --template "$work/template.html" \
  --config "$work/config.json" --dry-run --json | grep -c '^{"data"')
[[ "$got" == "$rows" ]] || { echo "error: assetdrop rendered $got assets, not $rows" >&2; exit 1; }

read -r o_secs o_kb <<< "$(ours "$work/rows.csv")"
read -r s_secs s_kb s_n <<< "$(sdk "$work/rows.csv")"
[[ "$s_n" == "$rows" ]] || { echo "error: the SDK rendered $s_n assets, not $rows" >&2; exit 1; }
if [[ -n "${BENCH_RESULTS:-}" ]]; then # for benches/compare.sh: one line, appended
  echo "builder $rows $o_secs $o_kb $s_secs $s_kb" >> "$BENCH_RESULTS"
fi
b_secs=0 b_kb=0
if [[ "$big_rows" -gt 0 ]]; then
  read -r b_secs b_kb <<< "$(ours "$work/big.csv")"
fi

sdk_version=$("$py" -c 'from importlib.metadata import version; print(version("ango"))')
printf '\n%-34s %10s %9s %12s %13s\n' "builder" "rows" "seconds" "rows/s" "peak RSS MB"
line() { printf '%-34s %10d %9.2f %12.0f %13.1f\n' "$1" "$2" "$3" "$(python3 -c "print($2/max($3,0.001))")" "$(python3 -c "print($4/1024)")"; }
line "assetdrop build --dry-run --json" "$rows" "$o_secs" "$o_kb"
line "AssetBuilderUploader (ango $sdk_version)" "$rows" "$s_secs" "$s_kb"
if [[ "$big_rows" -gt 0 ]]; then line "assetdrop build --dry-run --json" "$big_rows" "$b_secs" "$b_kb"; fi
echo
echo "ratio assetdrop/SDK rows per second at $rows rows: $(python3 -c "print(round($s_secs/max($o_secs,0.001),1))")x"
if [[ "$big_rows" -gt 0 ]]; then
  echo "peak memory of assetdrop at $big_rows rows: $(python3 -c "print(round($b_kb/1024,1))") MB ($(python3 -c "print(round($b_kb/max($o_kb,1),2))")x its peak at $rows rows)"
fi
