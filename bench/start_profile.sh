#!/usr/bin/env bash
# Where the time of one `mini-docker run --rm --network none IMG /bin/true`
# goes, and how it compares with `crun run` of the same rootfs: one private
# daemon in a private network and mount namespace, then one of
#
#   sudo bash bench/start_profile.sh BIN trace   # strace -f -ttt of client, daemon, shim, runtime
#   sudo bash bench/start_profile.sh BIN time    # hyperfine: mini-docker run --rm vs crun run
#   sudo bash bench/start_profile.sh BIN phases  # bench/phases.py (create, start, wait, rm)
#   sudo OLD=/path/to/old/mini-dockerd bash bench/start_profile.sh BIN ab
#                                                # one hyperfine session: the old daemon
#                                                # against BIN's, each on its own data root
#
# BIN is a cargo output directory (target/release or target/debug). Results
# go to $OUT (default: a fresh directory under /tmp, printed at the end).
# crun 1.8 refuses hybrid cgroup hosts, so the empty cgroup2 mount is
# unmounted in the private mount namespace (as bench/run.sh does).
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "bench/start_profile.sh needs root" >&2; exit 1; }
BIN=$(realpath "${1:?usage: start_profile.sh BIN trace|time|phases}")
MODE=${2:?usage: start_profile.sh BIN trace|time|phases}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${MDS_INNER:-}" ]; then
    export MDS_INNER=1
    exec unshare --net --mount --propagation private -- bash "$0" "$@"
fi
ip link set lo up
mountpoint -q /sys/fs/cgroup/unified 2>/dev/null && umount /sys/fs/cgroup/unified
W=$(mktemp -d /tmp/mds-XXXXXX)
OUT=${OUT:-$W.out}
mkdir -p "$OUT"
MD="$BIN/mini-docker -H unix://$W/d.sock"
RUNS=${RUNS:-40}
MDO="$BIN/mini-docker -H unix://$W/old.sock"
dpid=
opid=
cleanup() {
    set +e
    [ -S "$W/d.sock" ] && $MD ps -aq | xargs -r $MD rm -f >/dev/null 2>&1
    [ -S "$W/old.sock" ] && $MDO ps -aq | xargs -r $MDO rm -f >/dev/null 2>&1
    for p in $dpid $opid; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    grep -F " $W" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m"; done
    rm -rf "$W"
}
trap cleanup EXIT
"$BIN/mini-dockerd" -H "unix://$W/d.sock" --data-root "$W/data" --bridge-name none \
    --add-runtime "crun=$(command -v crun)" >"$OUT/daemon.log" 2>&1 &
dpid=$!
for _ in $(seq 300); do $MD version >/dev/null 2>&1 && break; sleep 0.1; done
"$BIN/chapter01" rootfs "$W/busybox" >/dev/null
tar --numeric-owner -C "$W/busybox" -cf "$W/busybox.tar" .
$MD import "$W/busybox.tar" bench/busybox:latest >/dev/null
IMG=bench/busybox:latest
# The same rootfs as a bundle for crun (its own copy: a bundle's root is writable).
mkdir -p "$W/bundle"
cp -a "$W/busybox" "$W/bundle/rootfs"
(cd "$W/bundle" && "$BIN/mini-runc" spec)
python3 - "$W/bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
c["root"]["readonly"] = False
json.dump(c, open(p, "w"), indent=1)
PY
$MD run --rm --network none $IMG /bin/true   # warm
if [ "$MODE" = ab ]; then
    "${OLD:?OLD: the old mini-dockerd binary}" -H "unix://$W/old.sock" --data-root "$W/old" \
        --bridge-name none >"$OUT/old-daemon.log" 2>&1 &
    opid=$!
    for _ in $(seq 300); do $MDO version >/dev/null 2>&1 && break; sleep 0.1; done
    $MDO import "$W/busybox.tar" $IMG >/dev/null
    $MDO run --rm --network none $IMG /bin/true
fi
case "$MODE" in
trace)
    strace -f -ttt -T -s 200 -o "$OUT/daemon.strace" -p "$dpid" &
    spid=$!
    sleep 1
    # RUNTIME=crun: the engine's part alone, with a runtime that is no part of it.
    strace -f -ttt -T -s 200 -o "$OUT/client.strace" $MD run --rm --runtime "${RUNTIME:-runc}" --network none $IMG /bin/true
    sleep 1
    kill -INT "$spid"; wait "$spid" || true
    (cd "$W/bundle" && strace -f -ttt -T -s 200 -o "$OUT/crun.strace" crun --root "$W/crun-state" run mds-crun)
    ;;
time)
    (cd "$W/bundle" && hyperfine -N --style basic --warmup 3 --runs "$RUNS" --export-json "$OUT/time.json" \
        -n mini-docker "$MD run --rm --network none $IMG /bin/true" \
        -n mini-docker-crun "$MD run --rm --runtime crun --network none $IMG /bin/true" \
        -n crun "crun --root $W/crun-state run mds-crun")
    ;;
ab)
    # The old daemon runs the mini-shim and mini-runc next to its own
    # binary (an old build's whole set, or BIN's copied there to compare
    # the daemons alone).
    hyperfine -N --style basic --warmup 3 --runs "$RUNS" --export-json "$OUT/ab.json" \
        -n old "$MDO run --rm --network none $IMG /bin/true" \
        -n new "$MD run --rm --network none $IMG /bin/true" \
        -n old2 "$MDO run --rm --network none $IMG /bin/true" \
        -n new2 "$MD run --rm --network none $IMG /bin/true"
    # Then old and new alternated run by run (both see the same load):
    # run --rm (none, and the daemons' bridge-less `bridge`), the phases, ps.
    $MD tag $IMG ab/bb && $MDO tag $IMG ab/bb
    python3 "$ROOT/bench/ab_interleave.py" "${ABRUNS:-20}" "$OUT/ab-interleaved.json" $MDO -- $MD
    ;;
phases)
    python3 "$ROOT/bench/phases.py" "${RUNS}" "$OUT/phases.json" none $MD
    ;;
esac
echo "results: $OUT"
