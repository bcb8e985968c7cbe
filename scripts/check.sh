#!/usr/bin/env bash
# Check your work on a chapter's exercises:
#   scripts/check.sh 03 2            exercise 2 of chapter 03 (your src/ex2.rs)
#   scripts/check.sh 03              every exercise of chapter 03, in order
#   scripts/check.sh runc 1          mini-runc's exercise 1 (mini-runc/exercises)
#   scripts/check.sh engine 1        the engine's exercise 1 (mini-dockerd/exercises)
#   scripts/check.sh --solutions 03  the reference answers (for teachers)
# It prints PASS or FAIL for each fact the checker observes, with what it saw
# and a hint. Most exercises need root, like the chapters.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
solutions=()
if [ "${1:-}" = "--solutions" ]; then solutions=(--solutions); shift; fi
if [ $# -lt 1 ]; then
    sed -n '2,9s/^# \{0,1\}//p' "$0"
    exit 2
fi
case "$1" in
    runc | mini-runc) package=mini-runc-exercises ;;
    engine | dockerd | mini-dockerd) package=mini-dockerd-exercises ;;
    *[!0-9]* | "")
        echo "check.sh: '$1' is not a part: give a chapter number (01 to 06), runc or engine" >&2
        exit 2
        ;;
    *) package="chapter$(printf '%02d' "$((10#$1))")-exercises" ;;
esac
shift
exec cargo run --quiet -p "$package" -- "${solutions[@]}" "$@"
