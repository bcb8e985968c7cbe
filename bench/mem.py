#!/usr/bin/env python3
"""Memory of the two engines' long-lived processes, from /proc.

    mem.py W BIN OUT.json

Groups: the mini-dockerd and the mini-shims started under W (bench/run.sh's
work dir), and the dockerd, its containerd and the containerd shims under W.
For each process: VmRSS (/proc/PID/status) and Pss (/proc/PID/smaps_rollup),
in KiB. RSS counts shared pages (libc, the binary's text) in every process;
PSS splits them between the processes that share them.
"""
import json
import os
import sys


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def field(text, name):
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def procs():
    for p in os.listdir("/proc"):
        if p.isdigit():
            cmd = read(f"/proc/{p}/cmdline").split("\0")
            try:
                exe = os.readlink(f"/proc/{p}/exe")
            except OSError:
                exe = ""
            status = read(f"/proc/{p}/status")
            yield int(p), exe, cmd, status


def main():
    w, bin_dir, out = sys.argv[1], sys.argv[2], sys.argv[3]
    pid_of = lambda n: int(read(f"{w}/pids/{n}").strip() or 0)
    mini_pid, docker_pid = pid_of("mini"), pid_of("dockerd")
    groups = {"mini-dockerd": [], "mini-shim": [], "dockerd": [], "containerd": [],
              "containerd-shim": []}
    for pid, exe, cmd, status in procs():
        joined = " ".join(cmd)
        ppid = field(status, "PPid")
        base = os.path.basename(exe.replace(" (deleted)", ""))
        if pid == mini_pid:
            g = "mini-dockerd"
        elif base == "mini-shim" and f"{w}/mini/" in joined:
            g = "mini-shim"
        elif pid == docker_pid:
            g = "dockerd"
        elif base == "containerd" and ppid == docker_pid:
            g = "containerd"
        elif base.startswith("containerd-shim") and w in joined:
            g = "containerd-shim"
        else:
            continue
        rss = field(status, "VmRSS")
        pss = field(read(f"/proc/{pid}/smaps_rollup"), "Pss")
        groups[g].append({"pid": pid, "rss_kib": rss, "pss_kib": pss})
    json.dump(groups, open(out, "w"), indent=1)
    for g, ps in groups.items():
        if ps:
            print(f"{g}: {len(ps)} process(es), RSS {sum(p['rss_kib'] for p in ps)/1024:.1f} MiB, "
                  f"PSS {sum(p['pss_kib'] for p in ps)/1024:.1f} MiB")


if __name__ == "__main__":
    main()
