#!/usr/bin/env bash
# A/B check of two builds of the engine, side by side in one hyperfine
# session (ratios only): `sudo bash bench/ab.sh OLD_BIN_DIR NEW_BIN_DIR [N_PS]`.
# Each directory holds mini-docker, mini-dockerd, mini-shim and mini-runc.
# Both daemons run in one private network namespace (their bridges and NAT
# go with it), on their own temp data roots; the same busybox image is
# imported into both. Measures `run --rm` (none and bridge, and the phases
# of a run) interleaved (bench/ab_interleave.py), then `ps` with 10 and
# 100 and N_PS (default 100) running containers in each, timing the
# `run -d` that start them. OUT=DIR keeps the JSON.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
A=$(realpath "${1:?old bin dir}"); B=$(realpath "${2:?new bin dir}"); NPS=${3:-100}
RUNS=${RUNS:-20}
OUT=${OUT:-}
if [ -z "${MDB_AB_INNER:-}" ]; then
    export MDB_AB_INNER=1
    exec unshare --net -- bash "$0" "$@"
fi
ip link set lo up
W=$(mktemp -d /tmp/mdab-XXXXXX)
export W BIN=$B
CTL="bash $ROOT/bench/ctl.sh"
cleanup() {
    set +e
    for s in a b; do
        sock=$W/$s/d.sock
        [ -S "$sock" ] && "$B/mini-docker" -H "unix://$sock" ps -aq | xargs -r -n50 "$B/mini-docker" -H "unix://$sock" rm -f >/dev/null 2>&1
    done
    for p in "$W"/pids/*; do [ -f "$p" ] && $CTL stop "$(basename "$p")"; done
    grep -F " $W" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
    rm -rf "$W"
}
trap cleanup EXIT
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
n=0
for s in a b; do
    bin=$A; [ $s = b ] && bin=$B
    n=$((n + 1))
    mkdir -p "$W/$s"
    $CTL start "d$s" "$bin/mini-dockerd" -H "unix://$W/$s/d.sock" --data-root "$W/$s/data" \
        --bridge-name "mdab$s-br0" --bridge-subnet "10.21$n.0.0/16"
    $CTL wait-sock "$W/$s/d.sock"
done
MA="$A/mini-docker -H unix://$W/a/d.sock"
MB="$B/mini-docker -H unix://$W/b/d.sock"
mkdir -p "$W/img"
busybox=$(command -v busybox)
mkdir -p "$W/img/r/bin"; cp "$busybox" "$W/img/r/bin/busybox"
for t in true sh sleep; do ln -s busybox "$W/img/r/bin/$t"; done
tar --numeric-owner -C "$W/img/r" -cf "$W/img/bb.tar" .
$MA import "$W/img/bb.tar" ab/bb >/dev/null
$MB import "$W/img/bb.tar" ab/bb >/dev/null
hf() { hyperfine --style basic -N --warmup 3 --runs "$RUNS" "$@"; }
OUT=${OUT:-$W}; mkdir -p "$OUT"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" >"$OUT/load.txt"
# Interleaved (old, new, new, old, ...): both builds see the same load.
python3 "$ROOT/bench/ab_interleave.py" "$RUNS" "$OUT/interleaved.json" $MA -- $MB
have=0
for n in 10 100 "$NPS"; do
    [ "$n" -gt "$have" ] || continue
    # Up to 100, `run -d` one at a time (issue 25's row), then 4 at a time:
    # timed for each build, the old one first.
    par=1; [ "$n" -gt 100 ] && par=4
    for s in A B; do
        m=$MA; [ $s = B ] && m=$MB
        t0=$(date +%s%N)
        seq $((have + 1)) "$n" | xargs -P "$par" -I{} $m run -d --network none ab/bb /bin/sleep 600 >/dev/null
        echo "$s: $((n - have)) run -d ($par at a time): $(( ($(date +%s%N) - t0) / 1000000 )) ms" | tee -a "$OUT/run-d.txt"
    done
    have=$n
    hf --export-json "$OUT/ps-$n.json" -n "old-ps-$n" "$MA ps" -n "new-ps-$n" "$MB ps"
    # The daemon's part alone: the API call, without the CLI's formatting.
    hf --export-json "$OUT/ps-api-$n.json" \
        -n "old-api-$n" "curl -sf -o /dev/null --unix-socket $W/a/d.sock http://x/v1.41/containers/json" \
        -n "new-api-$n" "curl -sf -o /dev/null --unix-socket $W/b/d.sock http://x/v1.41/containers/json"
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/load.txt"
