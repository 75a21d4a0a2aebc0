#!/usr/bin/env bash
# A hub-only demo (no window): builds assetdrop, starts a hub on 127.0.0.1:8080 (data under ./demo-hub unless
# ASSETDROP_ROOT is set), imports a demo folder of generated media into a project, lists what
# arrived, and keeps the hub running until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo build --release --locked
bin=target/release/assetdrop
root=${ASSETDROP_ROOT:-$PWD/demo-hub}
listen=${ASSETDROP_LISTEN:-127.0.0.1:8080}
demo=$(mktemp -d)
trap 'kill "$hub_pid" 2>/dev/null || true; rm -rf "$demo"' EXIT
bash tests/data/make_media_fixtures.sh "$demo" >/dev/null
"$bin" serve --root "$root" --listen "$listen" >"$demo/serve.log" &
hub_pid=$!
for _ in $(seq 100); do
  grep -q '^listening on ' "$demo/serve.log" 2>/dev/null && break
  kill -0 "$hub_pid" 2>/dev/null || { echo "the hub did not start" >&2; exit 2; }
  sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$demo/serve.log" | head -1)
key=$(cat "$root/.hub/api-key" 2>/dev/null || true)
export ASSETDROP_HUB=$url ASSETDROP_API_KEY=${ASSETDROP_API_KEY:-$key}
echo "hub: $url   (api key in $root/.hub/api-key)"
project=$("$bin" project create "Demo $(date +%H:%M:%S)")
echo "project: $project"
"$bin" upload --project "$project" --batch demo --create-batches --audio convert "$demo/good" "$demo/bad" || true
"$bin" assets list --project "$project"
echo
echo "The hub keeps running at $url; press Ctrl-C to stop it."
wait "$hub_pid"
