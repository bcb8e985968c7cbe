#!/usr/bin/env bash
# Side-by-side: the same small Dockerfile built by mini-docker (against
# mini-dockerd) and by the real docker CLI's legacy builder (against a
# private dockerd), cold (--no-cache) and warm (everything cached), in one
# hyperfine session each, so the tables carry the ratios.
#
#   sudo bash bench/build.sh              # prints the tables, appends them to bench/results/
#
# Both daemons run on private directories and sockets, without networking
# (RUN uses --network none), from the same busybox image (imported into both).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench/build.sh needs root: run it with sudo" >&2; exit 1; }
bash scripts/setup.sh >/dev/null
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
cargo build --release --quiet -p mini-docker -p mini-dockerd -p mini-shim -p mini-runc -p chapter01
bin="${CARGO_TARGET_DIR:-$PWD/target}/release"
work=$(mktemp -d /tmp/md-bench-build-XXXXXX)
mini_pid=""
docker_pid=""
cleanup() {
    [ -n "$mini_pid" ] && kill "$mini_pid" 2>/dev/null || true
    [ -n "$docker_pid" ] && kill "$docker_pid" 2>/dev/null || true
    sleep 1
    umount -R "$work" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# The base image, as a rootfs tarball.
"$bin/chapter01" rootfs "$work/rootfs" >/dev/null
tar -C "$work/rootfs" -cf "$work/busybox.tar" .

# The two daemons.
"$bin/mini-dockerd" -H "unix://$work/mini.sock" --data-root "$work/mini" --bridge-name none \
    >"$work/mini.log" 2>&1 &
mini_pid=$!
/usr/sbin/dockerd --data-root "$work/docker" --exec-root "$work/dexec" --pidfile "$work/docker.pid" \
    -H "unix://$work/docker.sock" --iptables=false --ip6tables=false --bridge=none --ip-masq=false \
    >"$work/docker.log" 2>&1 &
docker_pid=$!
mini="$bin/mini-docker -H unix://$work/mini.sock"
docker="env DOCKER_HOST=unix://$work/docker.sock DOCKER_BUILDKIT=0 docker"
for _ in $(seq 100); do
    $mini version >/dev/null 2>&1 && $docker version >/dev/null 2>&1 && break
    sleep 0.2
done
$mini import "$work/busybox.tar" bench-base:1 >/dev/null
$docker import "$work/busybox.tar" bench-base:1 >/dev/null

# The Dockerfile: metadata, a copy, two runs.
ctx="$work/ctx"
mkdir -p "$ctx/app"
seq 1 2000 >"$ctx/app/numbers.txt"
echo 'echo hello from the image' >"$ctx/app/run.sh"
cat >"$ctx/Dockerfile" <<'EOF'
FROM bench-base:1
ENV APP=/app MODE=bench
WORKDIR /app
COPY app/ /app/
RUN wc -l numbers.txt > count.txt
RUN chmod +x run.sh && mkdir -p /data
LABEL bench=build
CMD ["/bin/sh", "/app/run.sh"]
EOF

mkdir -p bench/results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
cold="$PWD/bench/results/build-cold-$stamp.md"
warm="$PWD/bench/results/build-warm-$stamp.md"
hyperfine -N --warmup 2 --runs "${RUNS:-10}" --export-markdown "$cold" \
    -n "mini-docker build (cold)" "$mini build --no-cache -q --network none $ctx" \
    -n "docker build (legacy, cold)" "$docker build --no-cache -q --network none $ctx"
hyperfine -N --warmup 2 --runs "${RUNS:-20}" --export-markdown "$warm" \
    -n "mini-docker build (warm)" "$mini build -q --network none $ctx" \
    -n "docker build (legacy, warm)" "$docker build -q --network none $ctx"
echo "Results: $cold $warm"
