#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ for SECONDS each (default 30), on the
# stable toolchain: cargo-fuzz needs nightly flags, RUSTC_BOOTSTRAP=1 lets
# stable accept them; `-s none` needs no sanitizer runtime.
#
#   scripts/fuzz.sh 60              # every target, 60 s each
#   scripts/fuzz.sh 600 reference   # one target, longer (the full profile)
#   FUZZ_RUNS=30000 scripts/fuzz.sh # CI: a fixed number of inputs from a
#                                   # fixed seed, so a run is repeatable and
#                                   # does not depend on the machine's speed
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
    targets=(reference documents registry_errors api_body api_router tar_unpack format_template dockerfile)
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
# api_router keeps an engine's data root in $TMPDIR/md-fuzz-api-<pid> (libFuzzer
# exits without running destructors): remove those of finished runs on the way out.
cleanup() {
    for d in "${TMPDIR:-/tmp}"/md-fuzz-api-*; do
        [ -d "$d" ] || continue
        [ -d "/proc/${d##*-}" ] || rm -rf "$d"
    done
}
trap cleanup EXIT
cd "$root/fuzz"
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}/fuzz"
cargo fuzz build -s none
for t in "${targets[@]}"; do
    if [ -n "${FUZZ_RUNS:-}" ]; then
        echo "== fuzz $t: ${FUZZ_RUNS} inputs from seed ${FUZZ_SEED:-1}"
        cargo fuzz run -s none "$t" -- -runs="$FUZZ_RUNS" -seed="${FUZZ_SEED:-1}" -timeout=5 -print_final_stats=1
    else
        echo "== fuzz $t for ${seconds}s"
        cargo fuzz run -s none "$t" -- -max_total_time="$seconds" -timeout=5 -print_final_stats=1
    fi
done
echo "fuzz: ${#targets[@]} targets: no crash"
