#!/usr/bin/env bash
# Memory of a shim per running container: mini-shim (under mini-dockerd)
# beside containerd-shim-runc-v2 (under a private containerd, runc).
#
#   sudo bash bench/shim_rss.sh [N]      # N containers each (default 100)
#
# Each side runs N `sleep` containers from the same busybox image, then sums
# Rss and Pss of every shim process (/proc/PID/smaps_rollup) and prints the
# mean per shim. Pss shares the pages of the binary and libc among the shims,
# so it is the better "cost of one more container"; Rss counts them in full.
# MD_BIN picks the binaries (default target/release, built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench/shim_rss.sh needs root: run it with sudo" >&2; exit 1; }
n=${1:-100}
bin=${MD_BIN:-$PWD/target/release}
if [ -z "${MD_BIN:-}" ]; then
    cargo build --release --quiet -p mini-docker -p mini-dockerd -p mini-shim -p mini-runc -p chapter01
fi
work=$(mktemp -d /tmp/md-bench-shim-XXXXXX)
ns="md-bench-shim-$$"
mini_pid=""
ctrd_pid=""
cleanup() {
    if [ -n "$ctrd_pid" ]; then
        for id in $(ctr -a "$work/c.sock" -n "$ns" tasks ls -q 2>/dev/null); do
            ctr -a "$work/c.sock" -n "$ns" tasks kill -s KILL "$id" >/dev/null 2>&1 || true
        done
        sleep 1
        for id in $(ctr -a "$work/c.sock" -n "$ns" containers ls -q 2>/dev/null); do
            ctr -a "$work/c.sock" -n "$ns" tasks rm -f "$id" >/dev/null 2>&1 || true
            ctr -a "$work/c.sock" -n "$ns" containers rm "$id" >/dev/null 2>&1 || true
        done
        kill "$ctrd_pid" 2>/dev/null || true
        # runc removes each container's cgroup, but containerd made the
        # namespace's parent (/<ns> in every hierarchy) and leaves it.
        sleep 1
        for d in /sys/fs/cgroup/*/"$ns" /sys/fs/cgroup/"$ns"; do
            [ -d "$d" ] && rmdir "$d" 2>/dev/null || true
        done
    fi
    if [ -n "$mini_pid" ]; then
        "$bin/mini-docker" -H "unix://$work/mini.sock" rm -f $("$bin/mini-docker" -H "unix://$work/mini.sock" ps -aq) >/dev/null 2>&1 || true
        kill "$mini_pid" 2>/dev/null || true
    fi
    sleep 1
    umount -R "$work" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# Sum of Rss and Pss (kB) over the pids given on stdin; prints "count rss pss".
sum_mem() {
    awk 'FNR==1{n++} /^Rss:/{r+=$2} /^Pss:/{p+=$2} END{printf "%d %d %d\n", n, r, p}' \
        $(sed 's|.*|/proc/&/smaps_rollup|')
}
report() {
    read -r count rss pss
    awk -v who="$1" -v c="$count" -v r="$rss" -v p="$pss" 'BEGIN{
        printf "%-26s %4d shims  mean Rss %6.2f MiB  mean Pss %6.2f MiB\n", who, c, r/c/1024, p/c/1024}'
}
# Pids whose command line contains every given word.
pids_with() {
    for p in /proc/[0-9]*; do
        cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
        ok=1
        for w in "$@"; do [[ $cmd == *"$w"* ]] || ok=0; done
        if [ $ok = 1 ]; then basename "$p"; fi
    done
}

"$bin/chapter01" rootfs "$work/rootfs" >/dev/null
tar -C "$work/rootfs" -cf "$work/busybox.tar" .

# mini-dockerd and its shims.
"$bin/mini-dockerd" -H "unix://$work/mini.sock" --data-root "$work/mini" --bridge-name none \
    >"$work/mini.log" 2>&1 &
mini_pid=$!
md() { "$bin/mini-docker" -H "unix://$work/mini.sock" "$@"; }
for _ in $(seq 100); do md version >/dev/null 2>&1 && break; sleep 0.1; done
md import "$work/busybox.tar" bb:shim >/dev/null
t0=$(date +%s.%N)
for i in $(seq "$n"); do md run -d --network none bb:shim sleep 3600 >/dev/null; done
t1=$(date +%s.%N)
echo "mini-docker: $n × run -d in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s"
pids_with mini-shim "$work/mini" | sum_mem | report "mini-shim"

# containerd and its runc shims.
containerd --address "$work/c.sock" --root "$work/croot" --state "$work/cstate" \
    >"$work/containerd.log" 2>&1 &
ctrd_pid=$!
c() { ctr -a "$work/c.sock" -n "$ns" "$@"; }
for _ in $(seq 100); do c version >/dev/null 2>&1 && break; sleep 0.1; done
md save -o "$work/bb.tar" bb:shim >/dev/null
c images import "$work/bb.tar" >/dev/null
t0=$(date +%s.%N)
for i in $(seq "$n"); do c run -d --net-host docker.io/library/bb:shim "md-shim-$i" sleep 3600 >/dev/null; done
t1=$(date +%s.%N)
echo "containerd: $n × ctr run -d in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s"
pids_with containerd-shim-runc-v2 "$work/c.sock" | sum_mem | report "containerd-shim-runc-v2"
