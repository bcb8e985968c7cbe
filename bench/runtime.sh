#!/usr/bin/env bash
# Side-by-side: `run` of one busybox bundle running /bin/true under mini-runc,
# runc and crun, in one hyperfine session (medians after a warm-up).
#
#   sudo bash bench/runtime.sh            # prints the table, appends it to bench/results/
#   RUNS=60 JSON=out.json bash bench/runtime.sh   # also hyperfine's JSON (bench/run.sh uses it)
#
# crun 1.8 refuses hybrid cgroup hosts, so on such a host every runtime runs in
# a private mount namespace where the empty cgroup2 mount is unmounted; the
# three then see the same (v1) host. mini-runc's --debug prints where its time
# goes, phase by phase.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench/runtime.sh needs root: run it with sudo" >&2; exit 1; }
bash scripts/setup.sh >/dev/null
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
cargo build --release --quiet -p mini-docker --bin mini-runc
cargo build --release --quiet -p chapter01
bin="${CARGO_TARGET_DIR:-$PWD/target}/release"
work=$(mktemp -d /tmp/md-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$bin/chapter01" rootfs "$work/rootfs" >/dev/null
(cd "$work" && "$bin/mini-runc" spec)
python3 - "$work/config.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
c["root"]["readonly"] = False
json.dump(c, open(p, "w"), indent=1)
PY
mini="$bin/mini-runc"
prep=""
[ -d /sys/fs/cgroup/unified ] && prep="umount /sys/fs/cgroup/unified &&"
mkdir -p bench/results
out="${OUT:-$PWD/bench/results/runtime-$(date -u +%Y%m%dT%H%M%SZ).md}"
json=""
[ -n "${JSON:-}" ] && json="--export-json $JSON"
unshare -m sh -c "mount --make-rprivate / && $prep cd $work && hyperfine -N --warmup 5 --runs ${RUNS:-50} --export-markdown $out $json \
  -n mini-runc '$mini --root $work/s-mini run b-mini' \
  -n crun 'crun --root $work/s-crun run b-crun' \
  -n runc 'runc --root $work/s-runc run b-runc'"
echo
echo "Where mini-runc's time goes (one run):"
unshare -m sh -c "mount --make-rprivate / && $prep cd $work && $mini --debug --root $work/s-mini run b-mini"
echo "Results: $out"
