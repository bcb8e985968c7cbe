#!/usr/bin/env bash
# Small helpers for bench/run.sh and for hyperfine's --prepare steps (which run
# them as `bash bench/ctl.sh VERB`). Every process started here is recorded in
# $W/pids/NAME and stopped by that pid only.
#
#   start NAME CMD...        run CMD in the background, log in $W/logs/NAME.log
#   stop NAME                SIGTERM (then SIGKILL after 15 s) the recorded pid
#   wait-sock PATH           wait until a unix socket accepts connections
#   wait-http URL            wait until an HTTP endpoint answers
#   fresh-registry KIND      restart registry KIND (ch06|dist) on empty storage
#   fresh-minipull           restart the pull benchmark's mini-dockerd on an empty data root
set -euo pipefail
: "${W:?W, the work dir of bench/run.sh, must be set}"
mkdir -p "$W/pids" "$W/logs"

start() {
    local name=$1; shift
    setsid "$@" </dev/null >>"$W/logs/$name.log" 2>&1 &
    echo $! >"$W/pids/$name"
}

stop() {
    local f="$W/pids/$1" pid
    [ -f "$f" ] || return 0
    pid=$(cat "$f")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 150); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$f"; return 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$f"
}

wait_sock() {
    for _ in $(seq 600); do
        python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])' "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "ctl: $1 never accepted a connection" >&2
    return 1
}

wait_http() {
    for _ in $(seq 600); do
        curl -s -o /dev/null --max-time 1 "$1" && return 0
        sleep 0.05
    done
    echo "ctl: $1 never answered" >&2
    return 1
}

# A docker-registry (distribution) config: filesystem storage, no cache, quiet.
dist_config() {   # dist_config STORAGE_DIR PORT > FILE
    printf '%s\n' "version: 0.1" "log:" "  level: error" "  accesslog:" "    disabled: true" \
        "storage:" "  filesystem:" "    rootdirectory: $1" "  delete:" "    enabled: true" \
        "http:" "  addr: 127.0.0.1:$2"
}

# The registries of the benchmark, each on its own loopback port:
# src (5000, docker-registry: the source of the pull benchmark),
# ch06 (5001, chapter 06's) and dist (5002, docker-registry) for skopeo.
registry_start() {
    local port
    case $1 in
        src) port=5000 ;;
        ch06) port=5001 ;;
        dist) port=5002 ;;
        *) echo "ctl: unknown registry $1" >&2; return 2 ;;
    esac
    mkdir -p "$W/reg-$1"
    if [ "$1" = ch06 ]; then
        start reg-ch06 "$BIN/chapter06" serve --addr "127.0.0.1:$port" --root "$W/reg-ch06"
    else
        dist_config "$W/reg-$1" "$port" >"$W/reg-$1.yml"
        start "reg-$1" docker-registry serve "$W/reg-$1.yml"
    fi
    wait_http "http://127.0.0.1:$port/v2/"
}

fresh_registry() {
    stop "reg-$1"
    rm -rf "${W:?}/reg-$1"
    mkdir -p "$W/reg-$1"
    registry_start "$1"
}

minipull_sock() { echo "$W/minipull/d.sock"; }

fresh_minipull() {
    local sock
    sock=$(minipull_sock)
    if [ -S "$sock" ] && [ -f "$W/pids/minipull" ]; then
        for id in $("$BIN/mini-docker" -H "unix://$sock" ps -aq); do
            "$BIN/mini-docker" -H "unix://$sock" rm -f "$id" >/dev/null 2>&1 || true
        done
    fi
    stop minipull
    rm -rf "${W:?}/minipull"
    mkdir -p "$W/minipull"
    start minipull "$BIN/mini-dockerd" -H "unix://$sock" --data-root "$W/minipull/data" --bridge-name none
    wait_sock "$sock"
}

verb=${1:?verb}; shift
case $verb in
    start) start "$@" ;;
    stop) stop "$@" ;;
    wait-sock) wait_sock "$@" ;;
    wait-http) wait_http "$@" ;;
    registry-start) registry_start "$@" ;;
    fresh-registry) fresh_registry "$@" ;;
    fresh-minipull) fresh_minipull ;;
    *) echo "ctl: unknown verb $verb" >&2; exit 2 ;;
esac
