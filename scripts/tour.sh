#!/usr/bin/env bash
# The main job: install what is missing, then run the tour.
# Today the tour is chapter 01 (namespaces); it grows into the mini-docker tour.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
cargo run --quiet -p chapter01 -- "$@"
