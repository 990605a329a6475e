#!/usr/bin/env bash
# Runs the cargo-fuzz targets of crates/stockraft-fuzz for SECONDS each:
#
#   command   the Raft command decoder (postcard) and applying what decodes;
#   snapshot  backup/snapshot parsing and restore, and the snapshot body decoder;
#   request   API request validation (protobuf decode, then the server's checks).
#
#   scripts/fuzz.sh SECONDS [TARGET...]
#
# On the stable toolchain: cargo-fuzz's instrumentation flags are nightly-only, so the build
# runs with RUSTC_BOOTSTRAP=1, and without a sanitizer (`--sanitizer none`; the project has no
# unsafe code of its own, and panics and failed assertions are what the targets check). New
# inputs go to a scratch corpus; the committed seeds (corpus/TARGET) are only read. A crash
# fails the run and leaves its input under crates/stockraft-fuzz/artifacts/TARGET/, which
# `cargo fuzz run --fuzz-dir crates/stockraft-fuzz TARGET FILE` replays.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:?usage: scripts/fuzz.sh SECONDS [TARGET...]}"
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(command snapshot request)

CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  echo "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install --quiet --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/fuzz"
fuzz=(cargo fuzz run --fuzz-dir crates/stockraft-fuzz --sanitizer none)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

for target in "${targets[@]}"; do
  mkdir -p "$scratch/$target" "crates/stockraft-fuzz/artifacts/$target"
  log="$scratch/$target.log"
  if ! "${fuzz[@]}" "$target" "$scratch/$target" "crates/stockraft-fuzz/corpus/$target" -- \
      -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="crates/stockraft-fuzz/artifacts/$target/" >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz $target: FAILED (input saved under crates/stockraft-fuzz/artifacts/$target/)"
    exit 1
  fi
  runs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log")
  echo "fuzz $target: ${runs:-?} inputs in ${seconds}s, no crash"
done
