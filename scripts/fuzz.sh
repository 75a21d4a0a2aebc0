#!/usr/bin/env bash
# Fuzzes the parsers of untrusted input with cargo-fuzz (libFuzzer): the file-type sniffer and
# media probe, the audio probe, the cloud-import reader, and the asset builder's template and
# table readers. Each target starts from fuzz/seeds/<target> plus what earlier runs found, and
# runs for SECONDS (default 20). Fails when any target crashes, hangs (> 10 s on one input) or
# needs more than 2 GiB; the input that did it is kept under <target dir>/fuzz/artifacts/.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET=${1:-20}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(sniff audio_probe cloud_reader template)

CARGO_FUZZ_VERSION=0.13.1
TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
case $TARGET_DIR in /*) ;; *) TARGET_DIR=$PWD/$TARGET_DIR ;; esac
TOOLS=$TARGET_DIR/tools
WORK=$TARGET_DIR/fuzz # builds, the growing corpora, crash artifacts and logs: never in the repo

# libFuzzer needs unstable compiler flags: the nightly toolchain when there is one, else the
# stable compiler told to accept them.
if rustup run nightly rustc --version >/dev/null 2>&1; then
  TOOLCHAIN=(+nightly)
else
  echo "fuzz.sh: no nightly toolchain; using stable with RUSTC_BOOTSTRAP=1" >&2
  TOOLCHAIN=()
  export RUSTC_BOOTSTRAP=1
fi

if [ "$("$TOOLS/bin/cargo-fuzz" --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  echo "fuzz.sh: installing cargo-fuzz $CARGO_FUZZ_VERSION into $TOOLS" >&2
  # A small command-line tool: built without optimisation, it installs in a fraction of the time.
  CARGO_PROFILE_RELEASE_OPT_LEVEL=0 \
    cargo install --locked --quiet --root "$TOOLS" "cargo-fuzz@$CARGO_FUZZ_VERSION"
fi
export PATH=$TOOLS/bin:$PATH

# Optimised, with debug assertions and overflow checks; no sanitizer, as the code it tests
# forbids `unsafe`.
FLAGS=(--release --debug-assertions --sanitizer none --target-dir "$WORK")
cargo "${TOOLCHAIN[@]}" fuzz build "${FLAGS[@]}"

failed=()
summary=()
for t in "${TARGETS[@]}"; do
  corpus=$WORK/corpus/$t
  artifacts=$WORK/artifacts/$t
  log=$WORK/logs/$t.log
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  echo "fuzz.sh: $t for ${SECONDS_PER_TARGET}s" >&2
  status=0
  cargo "${TOOLCHAIN[@]}" fuzz run "${FLAGS[@]}" "$t" "$corpus" "fuzz/seeds/$t" -- \
    -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  secs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  if [ "$status" -ne 0 ]; then
    failed+=("$t")
    summary+=("$(printf '%-13s FAILED (exit %s) after %s executions' "$t" "$status" "${execs:-?}")")
    grep -E '^(==[0-9]+== ERROR|thread .* panicked|SUMMARY|artifact_prefix|Test unit written|Crash|Running:)' "$log" | tail -n 20 >&2 || true
    tail -n 40 "$log" >&2
  else
    summary+=("$(printf '%-13s ok: %s executions (%s/s), %s corpus files' "$t" "${execs:-?}" "${secs:-?}" "$(find "$corpus" -type f | wc -l)")")
  fi
done

printf 'fuzz.sh: %s s per target\n' "$SECONDS_PER_TARGET"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: FAILED: ${failed[*]} (inputs in $WORK/artifacts; logs in $WORK/logs)" >&2
  exit 1
fi
