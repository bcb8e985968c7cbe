#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ for SECONDS each (default 30), on the
# stable toolchain: cargo-fuzz needs nightly flags, RUSTC_BOOTSTRAP=1 lets
# stable accept them; `-s none` needs no sanitizer runtime.
#
#   scripts/fuzz.sh 60              # every target, 60 s each
#   scripts/fuzz.sh 600 reference   # one target, longer (the full profile)
#
# A crash or hang (over 5 s for one input) fails the run and leaves the
# input in fuzz/artifacts/<target>/: add it as a regression test next to
# the parser, fix, and run again.
set -euo pipefail
seconds="${1:-30}"
shift || true
root="$(cd "$(dirname "$0")/.." && pwd)"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(reference documents registry_errors api_body tar_unpack format_template)
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
cd "$root/fuzz"
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}/fuzz"
cargo fuzz build -s none
for t in "${targets[@]}"; do
    echo "== fuzz $t for ${seconds}s"
    cargo fuzz run -s none "$t" -- -max_total_time="$seconds" -timeout=5 -print_final_stats=1
done
echo "fuzz: ${#targets[@]} targets, ${seconds}s each: no crash"
