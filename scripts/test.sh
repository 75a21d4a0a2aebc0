#!/usr/bin/env bash
# Runs every test of assetdrop: formatting and lints, then unit and integration tests against
# real hubs on 127.0.0.1 (fixtures are generated on first use), then the official Python SDK's
# suite against a real hub, then the desktop app driven in a real window. Installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/servers.sh   # s3s-fs, Azurite, fake-gcs-server for the storage tests (cached under target/servers)
cargo fmt --all -- --check
cargo clippy --locked --workspace --all-targets -- -D warnings
cargo test --locked --workspace
scripts/fuzz.sh 20  # libFuzzer on the parsers of untrusted input, 20 s per target (builds under target/fuzz)
tests/sdk/run.sh   # the official Python SDK (ango, pinned) against a real `assetdrop serve`
tests/e2e/run.sh  # the desktop app under Xvfb + WebKitWebDriver, with a real OS drag-and-drop
