#!/usr/bin/env python3
"""Where the time of `run --rm IMG /bin/true` goes, phase by phase, as a user
sees it through the CLI: `create`, `start`, `wait`, `rm`, each timed apart,
RUNS times (after one warm-up); medians per phase.

    phases.py RUNS OUT.json NETWORK CLI...
"""
import json
import statistics
import subprocess
import sys
import time


def timed(cmd):
    t = time.monotonic()
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return time.monotonic() - t, out.stdout.decode().strip()


def main():
    runs, out, net, cli = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
    img = "bench/busybox:latest"
    phases = {"create": [], "start": [], "wait": [], "rm": []}
    for i in range(runs + 1):
        t_create, cid = timed(cli + ["create", "--network", net, img, "/bin/true"])
        t_start, _ = timed(cli + ["start", cid])
        t_wait, _ = timed(cli + ["wait", cid])
        t_rm, _ = timed(cli + ["rm", cid])
        if i == 0:
            continue
        for k, v in zip(phases, (t_create, t_start, t_wait, t_rm)):
            phases[k].append(v)
    res = {k: statistics.median(v) for k, v in phases.items()}
    res["total"] = sum(res.values())
    json.dump({"median_s": res, "runs": runs, "network": net}, open(out, "w"), indent=1)
    print(" ".join(f"{k} {v*1000:.1f} ms" for k, v in res.items()))


if __name__ == "__main__":
    main()
