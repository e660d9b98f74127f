#!/usr/bin/env bash
# CI smoke test of the fuzz targets: builds both, then runs each for a short
# while (30 s by default, FUZZ_SECONDS to change) starting from the
# committed seed corpus. Exits non-zero when a build fails or a target
# crashes; the crashing input is left in fuzz/artifacts/<target>/.
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`); RUSTC_BOOTSTRAP=1 lets the
# stable toolchain accept the sanitizer flags cargo-fuzz passes. Runs the
# targets one after the other, each in a single process.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
export RUSTC_BOOTSTRAP=1

seconds="${FUZZ_SECONDS:-30}"
targets=(parse_message roundtrip respond snapshot)

# New inputs go to a throw-away directory, so the committed corpus/ is only
# read, never grown.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

cargo fuzz build

for target in "${targets[@]}"; do
    echo "=== fuzz smoke: $target for ${seconds}s ==="
    mkdir -p "$scratch/$target"
    if ! cargo fuzz run "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1; then
        echo "fuzz smoke: $target FAILED (crash input in fuzz/artifacts/$target/)" >&2
        exit 1
    fi
done
echo "fuzz smoke: all targets ran clean"
