#!/usr/bin/env bash
# Installs whatever this project needs and is missing, on Debian or Ubuntu, as root:
# the apt packages the chapters, tests and benchmarks use, and a Rust toolchain.
# Safe to run again: it only installs what is not there yet.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    echo "setup: this installs packages and the course needs root: run it with sudo" >&2
    exit 1
fi

# What each package is for:
#   busybox-static  the static busybox every demo root filesystem is made from (chapter 01)
#   util-linux      unshare, nsenter, setpriv (the by-hand commands; setpriv in tests)
#   iproute2        `ip`, to look at links and namespaces (chapter 05)
#   nftables        `nft`, NAT and port mapping (chapter 05)
#   docker.io containerd runc crun skopeo umoci docker-registry
#                   the real tools this project is compared with and tested against
#   hyperfine       side-by-side benchmarks
#   docker-compose python3-docker python3-venv
#                   the real Python clients the engine is tested with: docker-compose 1.29
#                   and docker-py 5.0.3 (Debian's), and a venv for the newest docker-py
#   openssh-server  sshd, which tests/remote_ssh.rs runs on a 127.0.0.1 port of its own
#                   (never the system service) for `-H ssh://` hosts
#   tini            tini-static, the init `run --init` bind-mounts at /sbin/docker-init
#                   (the daemon finds docker-init or tini-static on PATH; tests/engine_init.rs)
#   protobuf-compiler  protoc, which the k8s-cri crate's build script needs: the CRI gRPC
#                   client of tests/containerd_cri.rs (no registry ships crictl here)
#   containernetworking-plugins  the bridge, host-local and loopback CNI plugins that
#                   containerd's CRI runs for the pod of tests/containerd_cri.rs
#   ca-certificates, curl, build-essential, pkg-config: to install and build Rust crates
PACKAGES=(busybox-static util-linux iproute2 nftables procps
          docker.io containerd runc crun skopeo umoci docker-registry hyperfine
          docker-compose python3-docker python3-venv openssh-server tini
          protobuf-compiler containernetworking-plugins
          ca-certificates curl build-essential pkg-config)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # --no-install-recommends keeps docker.io from pulling in what it does not need here;
    apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
fi

# The newest docker-py from PyPI, in a venv of its own (Debian's 5.0.3 stays the
# system one, so tests can run both). Tests find it at this fixed path.
VENV=/opt/mini-docker-tests/venv
DOCKER_PY_VERSION=7.2.0
if ! "$VENV/bin/python" -c "import docker, sys; sys.exit(docker.__version__ != '$DOCKER_PY_VERSION')" 2>/dev/null; then
    echo "setup: installing docker-py $DOCKER_PY_VERSION from PyPI into $VENV"
    /usr/bin/python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "docker==$DOCKER_PY_VERSION"
fi

# Rust: use the one on PATH or in ~/.cargo; otherwise install it with rustup.
if [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi
if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: installing Rust with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi
echo "setup: ready ($(cargo --version))"
