#!/usr/bin/env python3
"""What one durable small write costs on a filesystem: write 300 bytes to a
temp file, fsync it, rename it over the old one, fsync the directory (the
engine's write_atomic pattern), RUNS times; medians.

    fsync_probe.py DIR RUNS OUT.json
"""
import json
import os
import statistics
import sys
import time


def main():
    d, runs, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    os.makedirs(d, exist_ok=True)
    fsync_file, whole = [], []
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    for i in range(runs):
        t0 = time.monotonic()
        tmp = os.path.join(d, f".probe.tmp{i}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, b"x" * 300)
        t1 = time.monotonic()
        os.fsync(fd)
        t2 = time.monotonic()
        os.close(fd)
        os.rename(tmp, os.path.join(d, "probe.json"))
        os.fsync(dfd)
        t3 = time.monotonic()
        fsync_file.append(t2 - t1)
        whole.append(t3 - t0)
    os.close(dfd)
    res = {"runs": runs, "fsync_median_s": statistics.median(fsync_file),
           "write_atomic_median_s": statistics.median(whole)}
    json.dump(res, open(out, "w"), indent=1)
    print(f"fsync of a small file: {res['fsync_median_s']*1000:.2f} ms; "
          f"temp+fsync+rename+fsync dir: {res['write_atomic_median_s']*1000:.2f} ms (medians of {runs})")


if __name__ == "__main__":
    main()
