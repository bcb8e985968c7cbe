#!/usr/bin/env python3
"""Two builds compared on a shared, busy machine: each measurement runs
the old build's command and the new build's one after the other, RUNS
times, so both see the same load; medians and their ratio.

    ab_interleave.py RUNS OUT.json OLD_CLI -- NEW_CLI

Measures `run --rm IMG /bin/true` with `--network none` and on the
default bridge, the phases of a `--network none` run (create, start,
wait, rm through the CLI), and `ps`. IMG is ab/bb (bench/ab.sh imports it).
"""
import json
import statistics
import subprocess
import sys
import time

IMG = "ab/bb"


def timed(cmd):
    t = time.monotonic()
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return (time.monotonic() - t) * 1000, out.stdout.decode().strip()


def phases(cli, net):
    c, cid = timed(cli + ["create", "--network", net, IMG, "/bin/true"])
    s, _ = timed(cli + ["start", cid])
    w, code = timed(cli + ["wait", cid])
    assert code == "0", code
    r, _ = timed(cli + ["rm", cid])
    return {"create": c, "start": s, "wait": w, "rm": r}


def main():
    runs, out = int(sys.argv[1]), sys.argv[2]
    rest = sys.argv[3:]
    i = rest.index("--")
    clis = {"old": rest[:i], "new": rest[i + 1:]}
    tests = {
        "run --rm, none": lambda c: {"total": timed(c + ["run", "--rm", "--network", "none", IMG, "/bin/true"])[0]},
        "run --rm, bridge": lambda c: {"total": timed(c + ["run", "--rm", IMG, "/bin/true"])[0]},
        "phases, none": lambda c: phases(c, "none"),
        "ps": lambda c: {"total": timed(c + ["ps"])[0]},
    }
    res = {}
    for name, f in tests.items():
        got = {"old": [], "new": []}
        for k in range(runs + 1):
            order = ["old", "new"] if k % 2 == 0 else ["new", "old"]
            for side in order:
                m = f(clis[side])
                if k > 0:
                    got[side].append(m)
        res[name] = {}
        for key in got["old"][0]:
            o = statistics.median(m[key] for m in got["old"])
            n = statistics.median(m[key] for m in got["new"])
            res[name][key] = {"old_ms": round(o, 2), "new_ms": round(n, 2), "new_over_old": round(n / o, 3)}
            print(f"{name:18} {key:7} old {o:8.1f} ms  new {n:8.1f} ms  new/old {n / o:5.2f}", flush=True)
    json.dump({"runs": runs, "results": res}, open(out, "w"), indent=1)


if __name__ == "__main__":
    main()
