#!/usr/bin/env bash
# Side-by-side: `run` of one busybox bundle running /bin/true under mini-runc,
# runc and crun, in one hyperfine session (medians after a warm-up).
#
#   sudo bash bench/runtime.sh            # prints the table, appends it to bench/results/
#   RUNS=60 JSON=out.json bash bench/runtime.sh   # also hyperfine's JSON (bench/run.sh uses it)
#
# crun 1.8 refuses hybrid cgroup hosts, so on such a host every runtime runs in
# a private mount namespace where the empty cgroup2 mount is unmounted; the
# three then see the same (v1) host. mini-runc's --debug prints where its time
# goes, phase by phase.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench/runtime.sh needs root: run it with sudo" >&2; exit 1; }
bash scripts/setup.sh >/dev/null
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
cargo build --release --quiet -p mini-runc
cargo build --release --quiet -p chapter01
bin="${CARGO_TARGET_DIR:-$PWD/target}/release"
work=$(mktemp -d /tmp/md-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$bin/chapter01" rootfs "$work/rootfs" >/dev/null
(cd "$work" && "$bin/mini-runc" spec)
python3 - "$work/config.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
c["root"]["readonly"] = False
json.dump(c, open(p, "w"), indent=1)
PY
mini="$bin/mini-runc"
prep=""
[ -d /sys/fs/cgroup/unified ] && prep="umount /sys/fs/cgroup/unified &&"
mkdir -p bench/results
out="${OUT:-$PWD/bench/results/runtime-$(date -u +%Y%m%dT%H%M%SZ).md}"
# The machine's speed drifts (other tenants, CPU frequency): one long hyperfine
# session per runtime would let a slow minute fall on one of them. So the runs
# are split into ROUNDS hyperfine sessions, the three runtimes in a rotated
# order each time, and the times of all rounds are pooled into one median.
rounds=${ROUNDS:-5}
per=$(( (${RUNS:-50} + rounds - 1) / rounds ))
cmds=("mini-runc|$mini --root $work/s-mini run b-mini"
      "crun|crun --root $work/s-crun run b-crun"
      "runc|runc --root $work/s-runc run b-runc")
for r in $(seq 0 $((rounds - 1))); do
    args=""
    for i in 0 1 2; do
        c="${cmds[$(( (i + r) % 3 ))]}"
        args="$args -n ${c%%|*} '${c#*|}'"
    done
    unshare -m sh -c "mount --make-rprivate / && $prep cd $work && hyperfine -N --style basic --warmup 3 --runs $per --export-json $work/round-$r.json $args" >/dev/null
done
python3 - "$work" "$rounds" "$out" "${JSON:-}" <<'PY'
import json, statistics, sys
work, rounds, out, js = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
pooled = {}
for r in range(rounds):
    for res in json.load(open(f"{work}/round-{r}.json"))["results"]:
        pooled.setdefault(res["command"], []).extend(res["times"])
results = [{"command": k, "times": v, "median": statistics.median(v), "mean": statistics.mean(v),
            "stddev": statistics.pstdev(v), "min": min(v), "max": max(v)} for k, v in pooled.items()]
if js:
    json.dump({"results": results, "rounds": rounds}, open(js, "w"), indent=1)
base = next(r["median"] for r in results if r["command"] == "crun")
lines = ["| Command | Median [ms] | Mean [ms] | Min [ms] | Max [ms] | Runs | Relative to crun |",
         "|:---|---:|---:|---:|---:|---:|---:|"]
for r in results:
    lines.append(f"| `{r['command']}` | {r['median']*1e3:.1f} | {r['mean']*1e3:.1f} | {r['min']*1e3:.1f} "
                 f"| {r['max']*1e3:.1f} | {len(r['times'])} | {r['median']/base:.2f} |")
text = "\n".join(lines) + f"\n\n{rounds} rounds, the order rotated each round; medians of the pooled runs.\n"
open(out, "w").write(text)
print(text)
PY
echo
echo "Where mini-runc's time goes (one run):"
unshare -m sh -c "mount --make-rprivate / && $prep cd $work && $mini --debug --root $work/s-mini run b-mini"
echo "Results: $out"
