#!/usr/bin/env python3
"""Start latency under concurrency: ROUNDS times, N copies of the same command
are started at once; each one's wall time is recorded.

    concurrent.py N ROUNDS OUT.json -- CMD...

Writes {"n", "rounds", "latencies_s": [...], "median_s", "p90_s", "max_s",
"round_wall_s": [...]}.
"""
import json
import statistics
import subprocess
import sys
import time


def main():
    n, rounds, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    cmd = sys.argv[sys.argv.index("--") + 1:]
    lat, walls = [], []
    for _ in range(rounds):
        t0 = time.monotonic()
        procs = [(time.monotonic(), subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                                     stderr=subprocess.DEVNULL))
                 for _ in range(n)]
        ends = {}
        while len(ends) < n:
            for i, (_, p) in enumerate(procs):
                if i not in ends and p.poll() is not None:
                    if p.returncode != 0:
                        sys.exit(f"concurrent: {' '.join(cmd)} failed ({p.returncode})")
                    ends[i] = time.monotonic()
            time.sleep(0.001)
        walls.append(max(ends.values()) - t0)
        lat.extend(ends[i] - procs[i][0] for i in range(n))
    lat.sort()
    res = {
        "n": n, "rounds": rounds, "latencies_s": lat,
        "median_s": statistics.median(lat),
        "p90_s": lat[int(0.9 * (len(lat) - 1))],
        "max_s": lat[-1],
        "round_wall_s": walls,
    }
    json.dump(res, open(out, "w"), indent=1)
    print(f"{n} at once: median {res['median_s']*1000:.0f} ms, p90 {res['p90_s']*1000:.0f} ms, "
          f"max {res['max_s']*1000:.0f} ms")


if __name__ == "__main__":
    main()
