#!/usr/bin/env bash
# Install what is missing, then run every test of the workspace, privileged ones
# included. Run it as root: privileged tests fail (they never skip) without it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
export CI="${CI:-}"
# Snapshots are compared, never written, when tests run here.
export INSTA_UPDATE=no
cargo build --workspace --all-targets --locked
# The tests run as a job of their own (`set -m`: its own process group, with
# the terminal when there is one): a test that signalled its process group by
# mistake would otherwise end this script without a word.
# This also proves that every exercise checker can fail: each exercises
# package (chapters/0N-*/exercises, mini-runc/exercises,
# mini-dockerd/exercises) has a tests/checkers.rs that runs its checker
# against the reference answers (must pass) and the untouched starting
# points (must fail, saying "not written yet").
set -m
status=0
cargo test --workspace --locked --no-fail-fast || status=$?
set +m
if [ "$status" -ne 0 ]; then
    echo "test.sh: cargo test ended with status $status" >&2
    dmesg 2>/dev/null | grep -iE "out of memory|killed process" | tail -5 >&2 || true
    exit "$status"
fi
# The engine once more with runc as its runtime (issue 20): the tests of what
# a runtime does (create, start, exec, kill, pause, update, delete, stdio,
# logs), with every daemon's default runtime the host's runc (the harness
# reads MINI_DOCKER_TEST_RUNTIME; see tests/src/daemon.rs). About
# 3 minutes on 2 cores, already built.
set -m
MINI_DOCKER_TEST_RUNTIME=runc cargo test -p e2e --locked --no-fail-fast \
    --test engine_lifecycle --test engine_interactive --test engine_logs \
    --test engine_resources --test engine_cli || status=$?
set +m
if [ "$status" -ne 0 ]; then
    echo "test.sh: the engine's tests with runc as the runtime ended with status $status" >&2
    exit "$status"
fi
# The fuzz targets (fuzz/): a fixed number of inputs from a fixed seed for
# each parser, so the run is repeatable (scripts/fuzz.sh SECONDS for longer).
FUZZ_RUNS="${FUZZ_RUNS:-100000}" FUZZ_SEED="${FUZZ_SEED:-1}" bash scripts/fuzz.sh
