#!/usr/bin/env bash
# The end-to-end tour of mini-docker, offline, on loopback only.
#
# It starts the chapter 06 registry on 127.0.0.1 and mini-dockerd on a
# private socket and data root, makes a base image from the host's busybox,
# pushes it through the registry and pulls it back, runs a web server with a
# published port, fetches the page through 127.0.0.1, shows ps, logs and
# inspect, then stops and removes everything and checks that nothing is left.
# Every step prints the command a user types; run it with `bash -x` to see
# the plumbing too. Needs root; the binaries are built by scripts/tour.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
T=${CARGO_TARGET_DIR:-target}/debug
for b in mini-docker mini-dockerd mini-shim mini-docker-proxy chapter01 chapter06; do
    [ -x "$T/$b" ] || { echo "engine-tour: $T/$b is not built: run scripts/tour.sh (or cargo build --workspace)" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "engine-tour: the engine needs root: run it with sudo" >&2; exit 1; }

work=$(mktemp -d /tmp/md-tour-XXXXXX)
chmod 755 "$work"
sock="$work/mini-docker.sock"
bridge="md-br-t$(printf '%04x' $((RANDOM % 65536)))"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
registry_pid=""
daemon_pid=""

say() { printf '\n\033[1m# %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
md() { printf '$ mini-docker %s\n' "$*"; "$T/mini-docker" -H "unix://$sock" "$@"; }

cleanup() {
    set +e
    if [ -S "$sock" ]; then
        for c in $("$T/mini-docker" -H "unix://$sock" ps -aq 2>/dev/null); do
            "$T/mini-docker" -H "unix://$sock" rm -f -v "$c" >/dev/null 2>&1
        done
        # User networks have bridges and nft tables of their own.
        "$T/mini-docker" -H "unix://$sock" network prune -f >/dev/null 2>&1
        "$T/mini-docker" -H "unix://$sock" volume prune -f >/dev/null 2>&1
    fi
    [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
    [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null && wait "$registry_pid" 2>/dev/null
    # The daemon keeps its bridge and NAT table between runs, like docker0; the tour removes them.
    ip link del "$bridge" 2>/dev/null
    nft delete table ip "mini_docker_${bridge//-/_}" 2>/dev/null
    nft list tables 2>/dev/null | awk -v b="${bridge//-/_}" '$0 ~ b {print $2, $3}' | while read -r fam name; do nft delete table "$fam" "$name"; done
    grep " $work" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

say "A registry on 127.0.0.1:$port (chapter 06), storing into $work/registry"
printf '$ chapter06 serve --addr 127.0.0.1:%s --root %s/registry &\n' "$port" "$work"
"$T/chapter06" serve --addr "127.0.0.1:$port" --root "$work/registry" >"$work/registry.log" 2>&1 &
registry_pid=$!

say "The daemon, on its own socket and data root, with bridge $bridge"
# --dns: names the embedded DNS does not know go to a closed local port, so the tour never asks an outside resolver.
printf '$ mini-dockerd -H unix://%s --data-root %s/data --bridge-name %s --dns 127.0.0.1:9 &\n' "$sock" "$work" "$bridge"
"$T/mini-dockerd" -H "unix://$sock" --data-root "$work/data" --bridge-name "$bridge" --dns 127.0.0.1:9 >"$work/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do
    "$T/mini-docker" -H "unix://$sock" version >/dev/null 2>&1 && break
    sleep 0.1
done
md version

say "A base image from the host's busybox (chapter 01's rootfs, imported as a one-layer image)"
run "$T/chapter01" rootfs "$work/rootfs"
run tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
md import "$work/rootfs.tar" busybox:tour
md images

say "Push it through the registry, forget it, pull it back"
image="127.0.0.1:$port/tour/busybox:1"
md tag busybox:tour "$image"
md push "$image"
md rmi "$image" busybox:tour
md pull "$image"

say "A web server: busybox httpd, port 80 published on a random port of 127.0.0.1"
md run -d --name tour-web -p 127.0.0.1::80 "$image" httpd -f -v -p 80 -h /var/www
hostport=$("$T/mini-docker" -H "unix://$sock" port tour-web 80 | head -n1 | awk -F: '{print $NF}')
md port tour-web
say "Fetch the page through 127.0.0.1:$hostport"
page=""
for _ in $(seq 50); do
    page=$(curl -s --max-time 2 "http://127.0.0.1:$hostport/" || true)
    [ -n "$page" ] && break
    sleep 0.1
done
printf '$ curl http://127.0.0.1:%s/\n%s\n' "$hostport" "$page"
case "$page" in
    *"hello from a busybox container"*) ;;
    *) echo "engine-tour: the page did not come through the published port" >&2; exit 1 ;;
esac

say "What the engine knows"
md ps
md logs tour-web
md inspect --format '{{ .NetworkSettings.IPAddress }}' tour-web

say "Inside the running container: exec joins its namespaces and cgroup"
md exec tour-web sh -c 'echo "hostname: $(hostname)"; ls /var/www'

say "A user network and a named volume: containers find each other by name; data outlives them"
md network create tour-net
md volume create tour-data
md run -d --name tour-db --network tour-net -v tour-data:/data "$image" sh -c 'echo kept > /data/note; exec sleep 300'
md run --rm --network tour-net "$image" ping -c 1 -W 2 tour-db
md rm -f tour-db
md run --rm -v tour-data:/data "$image" cat /data/note
note=$("$T/mini-docker" -H "unix://$sock" run --rm -v tour-data:/data "$image" cat /data/note)
[ "$note" = "kept" ] || { echo "engine-tour: the volume lost its data" >&2; exit 1; }
md network rm tour-net
md volume rm tour-data

say "An application of two services with compose: a health check, a dependency that waits for it, names from the embedded DNS"
mkdir -p "$work/app"
cat > "$work/app/compose.yaml" <<YAML
services:
  web:
    image: $image
    command: httpd -f -p 80 -h /var/www
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"]
      interval: 500ms
      retries: 20
  client:
    image: $image
    command: sh -c 'wget -q -O - http://web/ && exec sleep 300'
    depends_on:
      web:
        condition: service_healthy
YAML
printf '$ cat compose.yaml\n'; cat "$work/app/compose.yaml"
(cd "$work/app" && md compose -p tour up -d --wait)
(cd "$work/app" && md compose -p tour ps)
fetched=$(cd "$work/app" && "$T/mini-docker" -H "unix://$sock" compose -p tour logs --no-log-prefix client)
(cd "$work/app" && md compose -p tour logs client)
case "$fetched" in
    *"hello from a busybox container"*) ;;
    *) echo "engine-tour: the client did not reach web by its name" >&2; exit 1 ;;
esac
(cd "$work/app" && md compose -p tour down -v)

say "The whole course in one command: every kernel step of a start, with the command you could type"
md run --rm --explain --network none "$image" echo "explained and run"

say "Stop and remove everything"
md stop tour-web
md rm tour-web
md rmi "$image"
kill "$daemon_pid"; wait "$daemon_pid" 2>/dev/null || true; daemon_pid=""
kill "$registry_pid"; wait "$registry_pid" 2>/dev/null || true; registry_pid=""
cleanup
trap - EXIT

say "Nothing is left"
links=$(ip -o link show | grep -c "$bridge" || true)
mounts=$(grep -c "$work" /proc/self/mountinfo || true)
shims=$(pgrep -fc "mini-shim.*$work" || true)
printf 'links of the tour: %s, mounts: %s, shims: %s, work directory: %s\n' \
    "$links" "$mounts" "$shims" "$([ -e "$work" ] && echo present || echo gone)"
[ "$links" -eq 0 ] && [ "$mounts" -eq 0 ] && [ "$shims" -eq 0 ] && [ ! -e "$work" ]
echo "The tour is done. The same commands work against Docker Hub on a machine that is online: mini-docker pull busybox."
