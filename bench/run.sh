#!/usr/bin/env bash
# The benchmark suite: mini-docker side by side with Docker, runc, crun, the
# distribution registry and GNU tar, on this machine, in one run. Writes
# BENCHMARKS.md and keeps the raw hyperfine JSON in bench/results/<date>/.
#
#   sudo bash bench/run.sh            # the full suite (about 15-25 minutes on 2 cores)
#   sudo bash bench/run.sh --quick    # fewer runs (about 8 minutes)
#   sudo bash bench/run.sh --only-pull [--quick]   # only the pull rows (4.); prints,
#                                     # does not rewrite BENCHMARKS.md
#
# What it does:
#  1. installs the peers that are missing (apt: docker.io runc crun skopeo
#     docker-registry hyperfine debootstrap umoci busybox-static), builds the
#     release binaries, and makes the "realistic" image's rootfs once with
#     `debootstrap --variant=minbase` from the apt mirror (kept in
#     /var/cache/mini-docker-bench/ for the next runs);
#  2. re-runs itself in a private network namespace (`unshare -n`): both
#     daemons, their bridges and NAT rules, and the registries live there and
#     vanish with it; the only traffic is on that namespace's 127.0.0.1 and
#     the engines' own bridges;
#  3. starts its own dockerd (with its containerd) and mini-dockerd on temp
#     data roots and sockets, imports the same busybox image into both, and
#     measures with hyperfine (medians after a warm-up; every comparison is
#     a ratio of two medians from the same hyperfine session);
#  4. stops and removes everything it started (trap), and writes BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
QUICK=0
ONLY_PULL=0
for a in "$@"; do
    case $a in
        --quick) QUICK=1 ;;
        --only-pull) ONLY_PULL=1 ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        *) echo "bench/run.sh: unknown option $a (try --help)" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" -eq 0 ] || { echo "bench/run.sh needs root (daemons, namespaces, cgroups): run it with sudo" >&2; exit 1; }
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$CARGO_TARGET_DIR/release
CACHE=/var/cache/mini-docker-bench

# ---------------------------------------------------------------- phase 1 (host)
if [ -z "${MDB_INNER:-}" ]; then
    PKGS=(docker.io runc crun skopeo docker-registry hyperfine debootstrap umoci busybox-static
          iproute2 curl)
    missing=()
    for p in "${PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "bench: installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
    fi
    echo "bench: building release binaries (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
    cargo build --release --quiet -p mini-docker -p mini-dockerd -p mini-shim -p mini-runc -p chapter01 -p chapter06
    mkdir -p "$CACHE"
    if [ ! -f "$CACHE/minbase.tar" ]; then
        rm -rf "$CACHE/minbase.tmp"
        mirror=$(grep -rhoE '^(deb|URIs:) +https?://[^ ]*debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
                 | grep -oE 'https?://[^ ]*' | head -1 || true)
        if [ -n "$mirror" ] && debootstrap --variant=minbase bookworm "$CACHE/minbase.tmp" "$mirror" >"$CACHE/debootstrap.log" 2>&1; then
            echo "debootstrap --variant=minbase bookworm from $mirror" >"$CACHE/minbase.source"
        else
            # No mirror: the host's own files, as a stand-in of the same order of size.
            echo "bench: debootstrap could not reach a Debian mirror; using a subset of the host's /usr instead" >&2
            rm -rf "$CACHE/minbase.tmp"; mkdir -p "$CACHE/minbase.tmp"
            tar -C / -cf - usr/bin usr/sbin usr/lib/x86_64-linux-gnu etc/alternatives 2>/dev/null \
                | tar -C "$CACHE/minbase.tmp" -xf - || true
            echo "a subset of the host's /usr (no Debian mirror reachable)" >"$CACHE/minbase.source"
        fi
        # As the Debian images on Docker Hub: no apt caches or package lists.
        rm -rf "$CACHE/minbase.tmp/var/cache/apt/archives/"*.deb "$CACHE/minbase.tmp/var/lib/apt/lists/"* "$CACHE/minbase.tmp/dev/"*
        tar --numeric-owner --sort=name -C "$CACHE/minbase.tmp" -cf "$CACHE/minbase.tar.part" .
        mv "$CACHE/minbase.tar.part" "$CACHE/minbase.tar"
        rm -rf "$CACHE/minbase.tmp"
    fi
    export MDB_INNER=1 CARGO_TARGET_DIR
    exec unshare --net -- bash "$0" "$@"
fi

# ---------------------------------------------------------------- phase 2 (private netns)
ip link set lo up
if [ "$QUICK" = 1 ]; then RUNS=5; WARM=1; SLOW_RUNS=3; CONC_ROUNDS=2; else RUNS=20; WARM=3; SLOW_RUNS=7; CONC_ROUNDS=5; fi
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
R=$ROOT/bench/results/$STAMP
mkdir -p "$R"
W=$(mktemp -d /tmp/mdb-XXXXXX)   # short: socket paths must fit in sun_path
export W BIN
CTL="bash $ROOT/bench/ctl.sh"
PY=python3
DOCKER_BIN=/usr/bin/docker
MD="$BIN/mini-docker -H unix://$W/mini/d.sock"
DK="$DOCKER_BIN -H unix://$W/docker/docker.sock"
CGPARENT=mdb-bench-$(basename "$W" | tr -dc 'a-zA-Z0-9')
fact() { printf '%s\t%s\n' "$1" "$2" >>"$R/facts.tsv"; }
say() { printf '\n== %s\n' "$*"; }
hf() {   # hf NAME [hyperfine options] CMD...
    local name=$1; shift
    hyperfine --style basic --export-json "$R/$name.json" "$@"
}

cleanup() {
    set +e
    echo; echo "bench: cleaning up"
    if [ -S "$W/docker/docker.sock" ]; then
        $DK ps -aq | xargs -r -P4 -n20 $DK rm -f >/dev/null 2>&1
    fi
    for sock in "$W/mini/d.sock" "$W/minipull/d.sock"; do
        [ -S "$sock" ] && "$BIN/mini-docker" -H "unix://$sock" ps -aq | xargs -r -P4 -n20 "$BIN/mini-docker" -H "unix://$sock" rm -f >/dev/null 2>&1
    done
    for p in "$W"/pids/*; do [ -f "$p" ] && $CTL stop "$(basename "$p")"; done
    # Whatever is still mounted under the work dir (dockerd's overlays, netns files).
    grep -F " $W" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
    for c in /sys/fs/cgroup/*/"$CGPARENT"; do [ -d "$c" ] && rmdir "$c" 2>/dev/null; done
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------ machine and versions
fact date "$(date -u '+%Y-%m-%d %H:%M UTC')"
fact nproc "$(nproc)"
fact memory "$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
fact kernel "$(uname -r)"
fact cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
if [ -d /sys/fs/cgroup/memory ] && mountpoint -q /sys/fs/cgroup/unified 2>/dev/null; then cg="hybrid (v1 controllers, empty cgroup2 at /sys/fs/cgroup/unified)"
elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then cg="unified (cgroup v2)"; else cg="legacy (cgroup v1)"; fi
fact cgroups "$cg"
fact load_start "$(cut -d' ' -f1-3 /proc/loadavg)"
fact quick "$QUICK"
fact runs "$RUNS"
fact commit "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
fact v_mini "$("$BIN/mini-docker" --version 2>/dev/null | head -1)"
fact v_docker "$($DOCKER_BIN --version) / dockerd $(dockerd --version | sed 's/Docker version //')"
fact v_containerd "$(containerd --version | cut -d' ' -f3)"
fact v_runc "$(runc --version | head -1)"
fact v_crun "$(crun --version | head -1)"
fact v_skopeo "$(skopeo --version)"
fact v_registry "$(docker-registry --version 2>&1 | head -1)"
fact v_hyperfine "$(hyperfine --version)"
fact v_tar "$(tar --version | head -1)"
fact v_gzip "$(gzip --version | head -1)"
fact minbase_source "$(cat "$CACHE/minbase.source" 2>/dev/null || echo unknown)"

# ------------------------------------------------------------ daemons
say "starting dockerd and mini-dockerd (in a private network namespace)"
mkdir -p "$W/docker" "$W/mini"
echo '{}' >"$W/docker/daemon.json"
$CTL start dockerd dockerd --config-file "$W/docker/daemon.json" \
    --data-root "$W/docker/root" --exec-root "$W/docker/exec" --pidfile "$W/docker/docker.pid" \
    -H "unix://$W/docker/docker.sock" --bip 10.213.0.1/16 --cgroup-parent "/$CGPARENT" \
    --storage-driver overlay2
$CTL start mini "$BIN/mini-dockerd" -H "unix://$W/mini/d.sock" --data-root "$W/mini/data" \
    --bridge-name mdb-br0 --bridge-subnet 10.214.0.0/16
$CTL wait-sock "$W/mini/d.sock"
for _ in $(seq 300); do $DK version >/dev/null 2>&1 && break; sleep 0.1; done
$DK version >/dev/null || { tail -30 "$W/logs/dockerd.log"; exit 1; }
fact docker_storage "$($DK info --format '{{.Driver}}, cgroup driver {{.CgroupDriver}}')"

say "the busybox image (the host's busybox-static), imported into both engines"
mkdir -p "$W/img"
"$BIN/chapter01" rootfs "$W/img/busybox" >/dev/null
tar --numeric-owner -C "$W/img/busybox" -cf "$W/img/busybox.tar" .
$MD import "$W/img/busybox.tar" bench/busybox:latest >/dev/null
$DK import "$W/img/busybox.tar" bench/busybox:latest >/dev/null
IMG=bench/busybox:latest

if [ "$ONLY_PULL" = 0 ]; then
# ------------------------------------------------------------ 1. run --rm, default bridge
say "run --rm $IMG /bin/true, default bridge network"
hf run-bridge -N --warmup "$WARM" --runs "$RUNS" \
    -n mini-docker "$MD run --rm $IMG /bin/true" \
    -n docker "$DK run --rm $IMG /bin/true"

# ------------------------------------------------------------ 2. --network none, and crun on a bundle
say "run --rm --network none, and crun run on a bundle of the same rootfs"
mkdir -p "$W/bundle"
cp -a "$W/img/busybox" "$W/bundle/rootfs"
(cd "$W/bundle" && "$BIN/mini-runc" spec)
$PY - "$W/bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
c["root"]["readonly"] = False
json.dump(c, open(p, "w"), indent=1)
PY
# crun 1.8 refuses hybrid hosts: it runs where the empty cgroup2 mount is unmounted
# (a private mount namespace; the CLIs of the engines only talk to their sockets).
prep="mount --make-rprivate /"
mountpoint -q /sys/fs/cgroup/unified 2>/dev/null && prep="$prep && umount /sys/fs/cgroup/unified"
unshare -m sh -c "$prep && cd $W/bundle && hyperfine --style basic --export-json $R/run-none.json -N --warmup $WARM --runs $RUNS \
    -n mini-docker '$MD run --rm --network none $IMG /bin/true' \
    -n docker '$DK run --rm --network none $IMG /bin/true' \
    -n crun 'crun --root $W/crun-state run mdb-crun'"

# ------------------------------------------------------------ 3. the runtimes alone
say "mini-runc run vs crun run vs runc run (bench/runtime.sh)"
# A run of a bundle takes about 10 ms: 150 runs in 10 rotated rounds cost
# seconds, and fewer let this VM's drift decide a 10% question.
RUNS=$(( RUNS * 3 > 150 ? RUNS * 3 : 150 )) ROUNDS=10 JSON="$R/runtime.json" OUT="$R/runtime.md" bash "$ROOT/bench/runtime.sh" 2>&1 | tee "$R/runtime.txt"

fi # ONLY_PULL
# ------------------------------------------------------------ 4. pull of a realistic image
say "images for the pull benchmark: Debian minbase + a layer of small files"
mkdir -p "$W/img/files/srv/app"
$PY - "$W/img/files/srv/app" <<'PY'
import os, random, sys
root = sys.argv[1]; rnd = random.Random(13)
words = [b"container", b"layer", b"overlay", b"digest", b"namespace", b"cgroup", b"bridge", b"image"]
for d in range(60):
    os.makedirs(f"{root}/mod{d:02}", exist_ok=True)
    for f in range(50):
        body = b" ".join(rnd.choice(words) for _ in range(rnd.randint(40, 600)))
        open(f"{root}/mod{d:02}/file{f:02}.txt", "wb").write(body + b"\n")
PY
tar --numeric-owner --sort=name -C "$W/img/files" -cf "$W/img/files.tar" .
cp "$CACHE/minbase.tar" "$W/img/minbase.tar"
$PY "$ROOT/bench/mkimage.py" "$W/oci" debian "/bin/bash" "$W/img/minbase.tar" "$W/img/files.tar" | tee "$R/image-debian.json"
$PY "$ROOT/bench/mkimage.py" "$W/oci" busybox "/bin/sh" "$W/img/busybox.tar" | tee "$R/image-busybox.json"
$CTL registry-start src
for t in debian busybox; do
    skopeo copy -q --dest-tls-verify=false "oci:$W/oci:$t" "docker://127.0.0.1:5000/bench/$t:latest"
done
$CTL fresh-minipull
MP="$BIN/mini-docker -H unix://$W/minipull/d.sock"
for t in debian busybox; do
    REF=127.0.0.1:5000/bench/$t:latest
    say "pull $REF and create a container (both engines unpack during the pull)"
    # The floor: GNU tar decompressing and extracting the same layers.
    if [ $t = debian ]; then layers="$W/img/minbase.tar.gz $W/img/files.tar.gz"; else layers="$W/img/busybox.tar.gz"; fi
    hf "pull-$t" --warmup 1 --runs "$SLOW_RUNS" \
        -n mini-docker --prepare "$CTL fresh-minipull && sync" "$MP pull $REF >/dev/null && $MP create --network none $REF /bin/true >/dev/null" \
        -n docker --prepare "$DK rm -f mdb-pullprobe >/dev/null 2>&1; $DK rmi -f $REF >/dev/null 2>&1; sync" \
            "$DK pull -q $REF >/dev/null && $DK create --name mdb-pullprobe --network none $REF /bin/true >/dev/null" \
        -n "GNU tar -xzf" --prepare "rm -rf $W/tarx && mkdir $W/tarx && sync" \
            "for l in $layers; do tar --numeric-owner -xzf \$l -C $W/tarx || exit 1; done"
done
say "pull and first create apart (both unpack during the pull)"
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
REF=127.0.0.1:5000/bench/debian:latest
for i in $(seq "$SLOW_RUNS"); do
    $CTL fresh-minipull; sync
    t=$(date +%s%N); $MP pull $REF >/dev/null; a=$(ms "$t")
    t=$(date +%s%N); $MP create --network none $REF /bin/true >/dev/null; b=$(ms "$t")
    $DK rm -f mdb-pullprobe >/dev/null 2>&1 || true; $DK rmi -f $REF >/dev/null 2>&1 || true; sync
    t=$(date +%s%N); $DK pull -q $REF >/dev/null; c=$(ms "$t")
    t=$(date +%s%N); $DK create --name mdb-pullprobe --network none $REF /bin/true >/dev/null; d=$(ms "$t")
    printf '%s\t%s\t%s\t%s\n' "$a" "$b" "$c" "$d" | tee -a "$R/pull-phases.tsv"
done
$DK rm -f mdb-pullprobe >/dev/null 2>&1 || true
$CTL stop minipull
if [ "$ONLY_PULL" = 1 ]; then
    fact load_end "$(cut -d' ' -f1-3 /proc/loadavg)"
    say "pull rows only: results in ${R#$ROOT/} (BENCHMARKS.md not rewritten)"
    for t in debian busybox; do
        jq -r '.results[] | "\(.command)\t\(.median)"' "$R/pull-$t.json" | sed "s/^/pull-$t\t/"
    done
    cat "$R/pull-phases.tsv"
    exit 0
fi

# ------------------------------------------------------------ 5. registries, driven by skopeo
say "skopeo push and pull: chapter 06's registry vs docker-registry (distribution)"
mkdir -p "$W/reg-ch06"
hf skopeo-push --warmup 1 --runs "$SLOW_RUNS" \
    -n "chapter06 registry" --prepare "$CTL fresh-registry ch06" \
        "skopeo copy -q --dest-tls-verify=false oci:$W/oci:debian docker://127.0.0.1:5001/bench/debian:latest" \
    -n "docker-registry" --prepare "$CTL fresh-registry dist" \
        "skopeo copy -q --dest-tls-verify=false oci:$W/oci:debian docker://127.0.0.1:5002/bench/debian:latest"
hf skopeo-pull --warmup 1 --runs "$SLOW_RUNS" \
    -n "chapter06 registry" --prepare "rm -rf $W/skp" \
        "skopeo copy -q --src-tls-verify=false docker://127.0.0.1:5001/bench/debian:latest dir:$W/skp" \
    -n "docker-registry" --prepare "rm -rf $W/skp" \
        "skopeo copy -q --src-tls-verify=false docker://127.0.0.1:5002/bench/debian:latest dir:$W/skp"
for r in ch06 dist src; do $CTL stop "reg-$r"; done

# ------------------------------------------------------------ 6. build
say "build, cold (--no-cache, the base image present) and fully cached"
if $MD build --help >/dev/null 2>&1; then
    mkdir -p "$W/build"
    echo "hello from the build context" >"$W/build/hello.txt"
    cat >"$W/build/Dockerfile" <<EOF
FROM $IMG
ENV GREETING=hello
RUN echo built > /built.txt && mkdir -p /app
COPY hello.txt /app/hello.txt
WORKDIR /app
RUN cat /app/hello.txt /built.txt > /app/both.txt
CMD ["/bin/cat", "/app/both.txt"]
EOF
    hf build-cold --warmup 1 --runs "$SLOW_RUNS" \
        -n mini-docker --prepare "$MD rmi -f bench/built >/dev/null 2>&1; true" "$MD build --no-cache -t bench/built $W/build >/dev/null" \
        -n docker --prepare "$DK rmi -f bench/built >/dev/null 2>&1; true" "DOCKER_BUILDKIT=0 $DK build --no-cache -t bench/built $W/build >/dev/null"
    hf build-warm --warmup 2 --runs "$RUNS" \
        -n mini-docker "$MD build -t bench/built $W/build >/dev/null" \
        -n docker "DOCKER_BUILDKIT=0 $DK build -t bench/built $W/build >/dev/null"
else
    echo "mini-docker build is not available yet: skipped"
    fact build "not available yet"
fi

# ------------------------------------------------------------ 7. start latency under 10 concurrent starts
say "10 concurrent run --rm --network none"
$PY "$ROOT/bench/concurrent.py" 10 "$CONC_ROUNDS" "$R/conc-mini.json" -- $MD run --rm --network none $IMG /bin/true
$PY "$ROOT/bench/concurrent.py" 10 "$CONC_ROUNDS" "$R/conc-docker.json" -- $DK run --rm --network none $IMG /bin/true

# ------------------------------------------------------------ 8. many containers: memory, ps, inspect
start_many() {   # start_many ENGINE_CMD FIRST LAST PARALLEL -> seconds
    # Named mdb-c<N>: mini-docker's random names come from 22 x 20 words and
    # collide (a 409 Conflict) within a few dozen containers.
    local t0 t1
    t0=$(date +%s.%N)
    seq "$2" "$3" | xargs -P "$4" -I{} sh -c "$1 run -d --name mdb-c{} --network none $IMG sleep 1000000 >/dev/null"
    t1=$(date +%s.%N)
    $PY -c "print(round($t1 - $t0, 2))"
}
count=0
# 500 also in --quick: issue 25's `ps` row is measured there.
STEPS="10 100 500"
for n in $STEPS; do
    add=$((n - count))
    par=1; [ "$n" -gt 100 ] && par=4
    say "$n containers running in each engine (starting $add more, $par at a time)"
    fact "start_mini_${count}_${n}_s" "$(start_many "$MD" $((count + 1)) "$n" "$par")"
    fact "start_docker_${count}_${n}_s" "$(start_many "$DK" $((count + 1)) "$n" "$par")"
    fact "start_par_${n}" "$par"
    count=$n
    [ "$($MD ps -q | wc -l)" -eq "$n" ] || { echo "bench: mini-docker has $($MD ps -q | wc -l) running, expected $n" >&2; exit 1; }
    [ "$($DK ps -q | wc -l)" -eq "$n" ] || { echo "bench: docker has $($DK ps -q | wc -l) running, expected $n" >&2; exit 1; }
    sleep 2
    $PY "$ROOT/bench/mem.py" "$W" "$BIN" "$R/mem-$n.json"
    # sed reads all of it: `head` would close the pipe early, and mini-docker's
    # `ps` panics on EPIPE instead of exiting quietly (a client bug).
    mid=$($MD ps -q | sed -n 1p); did=$($DK ps -q | sed -n 1p)
    hf "ps-$n" -N --warmup "$WARM" --runs "$RUNS" -n mini-docker "$MD ps" -n docker "$DK ps"
    hf "inspect-$n" -N --warmup "$WARM" --runs "$RUNS" -n mini-docker "$MD inspect $mid" -n docker "$DK inspect $did"
done

# ------------------------------------------------------------ where the time goes
say "where the time goes: create, start, wait and rm timed apart (no containers left running)"
$MD ps -q | xargs -r -P4 -n20 $MD rm -f >/dev/null
$DK ps -q | xargs -r -P4 -n20 $DK rm -f >/dev/null
for net in none default; do
    $PY "$ROOT/bench/phases.py" "$SLOW_RUNS" "$R/phases-mini-$net.json" "$net" $MD
    $PY "$ROOT/bench/phases.py" "$SLOW_RUNS" "$R/phases-docker-$net.json" "$([ $net = default ] && echo bridge || echo none)" $DK
done
say "where the time goes: durable writes (fsync) on the data root's filesystem, and how many a run makes"
$PY "$ROOT/bench/fsync_probe.py" "$W/probe" 50 "$R/fsync-probe.json"
dpid=$(cat "$W/pids/mini")
strace -f -c -e trace=fsync,fdatasync,sync_file_range,syncfs -o "$R/strace-fsync-mini.txt" -p "$dpid" &
spid=$!
sleep 1
for i in 1 2 3 4 5; do $MD run --rm --network none $IMG /bin/true; done
sleep 0.5
kill -INT $spid 2>/dev/null; wait $spid 2>/dev/null || true
cat "$R/strace-fsync-mini.txt"
cp "$W/logs/mini.log" "$R/mini-dockerd.log" 2>/dev/null || true

fact load_end "$(cut -d' ' -f1-3 /proc/loadavg)"
fact uptime_end "$(uptime)"
say "writing BENCHMARKS.md"
$PY "$ROOT/bench/report.py" "$R" >"$ROOT/BENCHMARKS.md"
echo "bench: BENCHMARKS.md written; raw results in ${R#$ROOT/}"
