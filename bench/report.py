#!/usr/bin/env python3
"""Turns one bench/run.sh run (bench/results/<stamp>/) into BENCHMARKS.md on
stdout: machine, versions, and one table of ratios with the issue's goals.

    report.py bench/results/<stamp> > BENCHMARKS.md
"""
import json
import os
import statistics
import sys

R = sys.argv[1]
STAMP = os.path.basename(R.rstrip("/"))


def load(name):
    p = os.path.join(R, name + ".json")
    return json.load(open(p)) if os.path.exists(p) else None


facts = {}
if os.path.exists(os.path.join(R, "facts.tsv")):
    for line in open(os.path.join(R, "facts.tsv")):
        k, _, v = line.rstrip("\n").partition("\t")
        facts[k] = v


def med(name, cmd):
    """Median seconds of command `cmd` (its -n name) in hyperfine result `name`."""
    d = load(name)
    if not d:
        return None
    for r in d["results"]:
        if r["command"] == cmd:
            return r["median"]
    return None


def t(s):
    if s is None:
        return "—"
    if s >= 10:
        return f"{s:.1f} s"
    if s >= 1:
        return f"{s:.2f} s"
    ms = s * 1000
    return f"{ms:.0f} ms" if ms >= 100 else f"{ms:.1f} ms"


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


rows = []   # what, mini, peer, ratio, goal, met


def faster(what, mine, peer_name, peer, goal_x, goal_text):
    """A row where mini-docker should be goal_x times faster (goal_x<=1 means 'within')."""
    if mine is None or peer is None:
        rows.append((what, t(mine), f"{peer_name} {t(peer)}", "—", goal_text, "not measured"))
        return
    x = peer / mine
    ratio = f"{x:.1f}× faster" if x >= 1 else f"{1 / x:.2f}× slower"
    met = "yes" if x >= goal_x else "**no**"
    rows.append((what, t(mine), f"{peer_name} {t(peer)}", ratio, goal_text, met))


def info(what, mine, peer_name, peer):
    if mine is None or peer is None:
        rows.append((what, t(mine), f"{peer_name} {t(peer)}", "—", "—", "—"))
        return
    x = peer / mine
    ratio = f"{x:.1f}× faster" if x >= 1 else f"{1 / x:.2f}× slower"
    rows.append((what, t(mine), f"{peer_name} {t(peer)}", ratio, "—", "—"))


# 1-2: run --rm
faster("`run --rm IMG /bin/true`, default bridge", med("run-bridge", "mini-docker"),
       "`docker run --rm`", med("run-bridge", "docker"), 20, "≥ 20× faster")
faster("`run --rm --network none IMG /bin/true`", med("run-none", "mini-docker"),
       "`docker run --rm --network none`", med("run-none", "docker"), 20, "≥ 20× faster")
faster("the same, against the runtime alone", med("run-none", "mini-docker"),
       "`crun run` on a bundle", med("run-none", "crun"), 1 / 1.5, "≤ 1.5× `crun run`")
# Issue 25: a bridged start costs at most 1.3x the --network none one
# (two hyperfine sessions of one run, back to back).
_b, _n = med("run-bridge", "mini-docker"), med("run-none", "mini-docker")
faster("`run --rm`, default bridge, against `--network none`", _b,
       "mini-docker `--network none`", _n, 1 / 1.3, "≤ 1.3× the `--network none` start")
# 3: runtimes
faster("`mini-runc run` on a bundle", med("runtime", "mini-runc"), "`crun run`",
       med("runtime", "crun"), 1.0, "at or below crun")
info("`mini-runc run` on a bundle", med("runtime", "mini-runc"), "`runc run`", med("runtime", "runc"))
# 4: pull
img = load("image-debian") or {}
size = ""
if img:
    size = f" ({img['compressed'] / 1e6:.0f} MB gzip, {img['uncompressed'] / 1e6:.0f} MB unpacked, {img['layers']} layers)"
faster(f"`pull` + unpack, Debian minbase + 3000 small files{size}", med("pull-debian", "mini-docker"),
       "`docker pull` + unpack", med("pull-debian", "docker"), 2, "≥ 2× faster (≥ 5× with a mounted layer format)")
faster("the same, against the floor", med("pull-debian", "mini-docker"),
       "GNU `tar -xzf` of the same layers", med("pull-debian", "GNU tar -xzf"), 0.5, "within 2× of tar")
# 5: registries
faster("`skopeo copy` push to chapter 06's registry", med("skopeo-push", "chapter06 registry"),
       "to `docker-registry`", med("skopeo-push", "docker-registry"), 1.0, "at least as fast")
faster("`skopeo copy` pull from chapter 06's registry", med("skopeo-pull", "chapter06 registry"),
       "from `docker-registry`", med("skopeo-pull", "docker-registry"), 1.0, "at least as fast")
# 6: build
if facts.get("build") == "not available yet" or load("build-cold") is None:
    rows.append(("`build`, cold", "not available yet", "`DOCKER_BUILDKIT=0 docker build`", "—",
                 "2× faster", "not measured (`mini-docker build` does not exist yet)"))
    rows.append(("`build`, fully cached", "not available yet", "`DOCKER_BUILDKIT=0 docker build`", "—",
                 "under 0.2 s", "not measured"))
else:
    faster("`build`, cold", med("build-cold", "mini-docker"), "`DOCKER_BUILDKIT=0 docker build`",
           med("build-cold", "docker"), 2, "≥ 2× faster")
    w_m, w_d = med("build-warm", "mini-docker"), med("build-warm", "docker")
    rows.append(("`build`, fully cached", t(w_m), f"`docker build` {t(w_d)}",
                 f"{w_d / w_m:.1f}× faster" if w_m and w_d else "—", "under 0.2 s",
                 "yes" if w_m is not None and w_m < 0.2 else "**no**"))
# 7: 100 containers
mem = load("mem-100")
if mem:
    def tot(g, key="rss_kib"):
        return sum(p[key] for p in mem.get(g, []))

    def avg(g, key="rss_kib"):
        ps = mem.get(g, [])
        return sum(p[key] for p in ps) / len(ps) if ps else 0

    m_d, d_d = tot("mini-dockerd"), tot("dockerd") + tot("containerd")
    ratio = m_d / d_d if d_d else 0
    rows.append(("daemon memory (RSS) with 100 containers", mib(m_d),
                 f"dockerd + containerd {mib(d_d)}", f"{ratio:.3f}× of Docker's", "under 0.1×",
                 "yes" if ratio < 0.1 else "**no**"))
    m_s, d_s = avg("mini-shim"), avg("containerd-shim")
    ratio = m_s / d_s if d_s else 0
    rows.append((f"per-container shim memory (RSS, mean of {len(mem.get('mini-shim', []))})", mib(m_s),
                 f"containerd-shim-runc-v2 {mib(d_s)}", f"{ratio:.3f}× of Docker's", "under 0.1×",
                 "yes" if ratio < 0.1 else "**no**"))
ps_m, ps_d = med("ps-100", "mini-docker"), med("ps-100", "docker")
rows.append(("`ps` with 100 containers", t(ps_m), f"`docker ps` {t(ps_d)}",
             f"{ps_d / ps_m:.1f}× faster" if ps_m and ps_d else "—", "under 20 ms",
             "not measured" if ps_m is None else "yes" if ps_m < 0.020 else "**no**"))
# Issue 25: `ps` with 500 running, under 10 ms and flat from 10 to 500.
ps5_m, ps5_d, ps10_m = med("ps-500", "mini-docker"), med("ps-500", "docker"), med("ps-10", "mini-docker")
flat = f"; {ps5_m / ps10_m:.1f}× its time with 10" if ps5_m and ps10_m else ""
rows.append(("`ps` with 500 containers", t(ps5_m), f"`docker ps` {t(ps5_d)}",
             (f"{ps5_d / ps5_m:.1f}× faster" if ps5_m and ps5_d else "—") + flat,
             "≤ 10 ms, flat from 10 to 500",
             "not measured" if ps5_m is None else "yes" if ps5_m <= 0.010 and ps10_m and ps5_m / ps10_m < 1.5 else "**no**"))
# Issue 25: 100 `run -d`, one at a time (the 10, then the 90 more, of step 8).
def _started(engine):
    a, b = facts.get(f"start_{engine}_0_10_s"), facts.get(f"start_{engine}_10_100_s")
    return float(a) + float(b) if a and b and facts.get("start_par_100") == "1" else None
faster("100 `run -d`, one at a time", _started("mini"), "`docker run -d`", _started("docker"),
       15, "≥ 15× faster")

out = []
p = out.append
p("# Benchmarks")
p("")
p(f"Written by `sudo bash bench/run.sh{' --quick' if facts.get('quick') == '1' else ''}` on "
  f"{facts.get('date', '?')} at commit `{facts.get('commit', '?')}`; the raw hyperfine JSON and "
  f"logs are in [`bench/results/{STAMP}/`](bench/results/{STAMP}/). Each comparison is a ratio of "
  "two medians measured in the same hyperfine session (warm-up first; the three runtimes: "
  "rounds of sessions in rotated order, pooled, see `bench/runtime.sh`), on the same machine, "
  "in the same run; absolute times from another day or machine are not comparable.")
p("")
p("## Machine")
p("")
p(f"- {facts.get('nproc', '?')} cores ({facts.get('cpu', '?')}), {facts.get('memory', '?')} of memory, "
  f"Linux {facts.get('kernel', '?')}")
p(f"- cgroups: {facts.get('cgroups', '?')}; Docker: {facts.get('docker_storage', '?')}")
def _busy(load, cores):
    try:
        return float(str(load).split()[0]) > float(cores)
    except (ValueError, IndexError):
        return False


_load_note = (" The machine was busy (a 1-minute load above the number of cores): other work "
              "shared the cores, which adds noise to every figure (the ratios, taken side by side, less so)."
              if _busy(facts.get('load_start', ''), facts.get('nproc', 0))
              or _busy(facts.get('load_end', ''), facts.get('nproc', 0))
              else " Nothing else of note ran on the machine.")
p(f"- load average (1, 5, 15 min) at the start: {facts.get('load_start', '?')}, at the end: "
  f"{facts.get('load_end', '?')}.{_load_note}")
p(f"- hyperfine runs per command: {facts.get('runs', '?')} for quick commands, fewer for pulls, "
  "pushes and builds (see each JSON)")
p("- everything ran in a private network namespace made for the run: the registries listen on its "
  "127.0.0.1, the two engines' bridges (`mdb-br0` 10.214.0.0/16, Docker's `docker0` 10.213.0.0/16) "
  "and NAT rules live in it and vanished with it")
p("")
p("## Versions")
p("")
p("| tool | version |")
p("| --- | --- |")
for k, label in [("v_mini", "mini-docker"), ("v_docker", "docker CLI / dockerd (docker.io)"),
                 ("v_containerd", "containerd"), ("v_runc", "runc"), ("v_crun", "crun"),
                 ("v_skopeo", "skopeo"), ("v_registry", "docker-registry"), ("v_hyperfine", "hyperfine"),
                 ("v_tar", "GNU tar"), ("v_gzip", "gzip"), ("minbase_source", "the Debian image's rootfs")]:
    p(f"| {label} | {facts.get(k, '?')} |")
p("")
p("## Results")
p("")
p("The goals are issue 25's (met/not met), measured by this run. Comparisons of two builds "
  "(before/after a change, `bench/ab.sh`) follow the table.")
p("")
p("| what | mini-docker | peer | ratio | goal | met? |")
p("| --- | ---: | --- | --- | --- | --- |")
for r in rows:
    p("| " + " | ".join(r) + " |")
p("")
# Hand-written A/B comparisons of two builds (bench/ab.sh) and measurements
# made apart from this script; its leading <!-- comment --> stays out.
ab = os.path.join(os.path.dirname(os.path.abspath(__file__)), "before-after.md")
if os.path.exists(ab):
    text = open(ab).read()
    if text.startswith("<!--"):
        text = text[text.index("-->") + 3:]
    p(text.strip())
    p("")
p("## How cost grows")
p("")
p("| containers running | `mini-docker ps` | `docker ps` | `mini-docker inspect` | `docker inspect` | "
  "starting them: mini-docker | starting them: docker |")
p("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
prev = 0
for n in (10, 100, 500):
    if load(f"ps-{n}") is None:
        p(f"| {n} | {facts.get('growth_500', 'not measured')} | | | | | |")
        continue
    sm = facts.get(f"start_mini_{prev}_{n}_s")
    sd = facts.get(f"start_docker_{prev}_{n}_s")
    par = facts.get(f"start_par_{n}", "1")
    per = lambda s: f"{float(s):.1f} s for {n - prev} ({float(s) / (n - prev) * 1000:.0f} ms each, {par} at a time)" if s else "—"
    p(f"| {n} | {t(med(f'ps-{n}', 'mini-docker'))} | {t(med(f'ps-{n}', 'docker'))} | "
      f"{t(med(f'inspect-{n}', 'mini-docker'))} | {t(med(f'inspect-{n}', 'docker'))} | {per(sm)} | {per(sd)} |")
    prev = n
p("")
p("Pull time against image size (pull + unpack, medians):")
p("")
p("| image | compressed | unpacked | mini-docker | docker | GNU tar -xzf |")
p("| --- | ---: | ---: | ---: | ---: | ---: |")
for name in ("busybox", "debian"):
    im = load(f"image-{name}") or {}
    if not im:
        continue
    p(f"| {name} | {im['compressed'] / 1e6:.1f} MB | {im['uncompressed'] / 1e6:.1f} MB | "
      f"{t(med(f'pull-{name}', 'mini-docker'))} | {t(med(f'pull-{name}', 'docker'))} | "
      f"{t(med(f'pull-{name}', 'GNU tar -xzf'))} |")
p("")
pp = os.path.join(R, "pull-phases.tsv")
if os.path.exists(pp):
    cols = list(zip(*[[int(x) for x in l.split()] for l in open(pp) if l.strip()]))
    if len(cols) == 4:
        a, b, c, d = (statistics.median(x) / 1000 for x in cols)
        p("")
        p(f"The Debian image's pull and first create apart ({len(cols[0])} rounds, medians): mini-docker "
          f"`pull` {t(a)} (download, verify, and unpack every layer at once into chapter 03's layer "
          f"store as it arrives) then the first `create` {t(b)}; `docker pull` {t(c)} (unpacks as it "
          f"goes) then `docker create` {t(d)}.")
p("")
cm, cd = load("conc-mini"), load("conc-docker")
single_m, single_d = med("run-none", "mini-docker"), med("run-none", "docker")
if cm and cd:
    p(f"Start latency under 10 concurrent `run --rm --network none IMG /bin/true` ({cm['rounds']} rounds, "
      "each start's own wall time):")
    p("")
    p("| | alone (median) | 10 at once: median | p90 | max |")
    p("| --- | ---: | ---: | ---: | ---: |")
    p(f"| mini-docker | {t(single_m)} | {t(cm['median_s'])} | {t(cm['p90_s'])} | {t(cm['max_s'])} |")
    p(f"| docker | {t(single_d)} | {t(cd['median_s'])} | {t(cd['p90_s'])} | {t(cd['max_s'])} |")
    p("")
for n in (100, 500):
    m = load(f"mem-{n}")
    if not m:
        continue
    p(f"Memory with {n} containers running in each engine (RSS counts shared pages in every process; "
      "PSS shares them out):")
    p("")
    p("| process | count | RSS total | RSS each (mean) | PSS total | PSS each (mean) |")
    p("| --- | ---: | ---: | ---: | ---: | ---: |")
    for g, ps in m.items():
        if not ps:
            continue
        rss = sum(x["rss_kib"] for x in ps)
        pss = sum(x["pss_kib"] for x in ps)
        p(f"| {g} | {len(ps)} | {mib(rss)} | {mib(rss / len(ps))} | {mib(pss)} | {mib(pss / len(ps))} |")
    p("")
p("## Where the time goes")
p("")
ph = {k: load(f"phases-{k}") for k in ("mini-none", "docker-none", "mini-default", "docker-default")}
if all(ph.values()):
    p("`run --rm` split into the CLI calls `create`, `start`, `wait`, `rm`, each timed apart "
      "(medians; each line includes one CLI process start and its API calls):")
    p("")
    p("| phase | mini-docker, none | docker, none | mini-docker, bridge | docker, bridge |")
    p("| --- | ---: | ---: | ---: | ---: |")
    for k in ("create", "start", "wait", "rm", "total"):
        p(f"| {k} | " + " | ".join(t(ph[x]["median_s"][k]) for x in
                                  ("mini-none", "docker-none", "mini-default", "docker-default")) + " |")
    p("")
rt = os.path.join(R, "runtime.txt")
if os.path.exists(rt):
    lines = open(rt).read().splitlines()
    if "Where mini-runc's time goes (one run):" in lines:
        i = lines.index("Where mini-runc's time goes (one run):")
        p("`mini-runc --debug run` (one run, the runtime alone):")
        p("")
        p("```text")
        p("\n".join(l for l in lines[i + 1:] if not l.startswith("Results:")))
        p("```")
        p("")
fp = load("fsync-probe")
st = os.path.join(R, "strace-fsync-mini.txt")
if fp:
    calls = "?"
    if os.path.exists(st):
        for l in open(st):
            f = l.split()
            if len(f) >= 5 and f[-1] == "total":
                calls = f[3]
    p(f"Durable writes: on the data root's filesystem one fsync of a small file takes "
      f"{fp['fsync_median_s'] * 1000:.2f} ms and the engine's write pattern (temp file, fsync, rename, "
      f"fsync of the directory) {fp['write_atomic_median_s'] * 1000:.2f} ms (medians of {fp['runs']}); "
      f"mini-dockerd and its shims made {calls} fsync calls over 5 `run --rm --network none` "
      "(`strace -f -c`, in the raw results).")
    p("")
notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "where-time-goes.md")
if os.path.exists(notes):
    p(open(notes).read().rstrip())
    p("")
p("## Reproduce")
p("")
p("```sh")
p("sudo bash bench/run.sh            # the full suite, writes this file")
p("sudo bash bench/run.sh --quick    # fewer runs, the same steps")
p("sudo bash bench/ab.sh OLD_BIN NEW_BIN 500   # two builds side by side (before/after)")
p("cargo bench -p chapter04          # criterion: layer unpack, sha256 digesting (chapter 04)")
p("cargo bench -p chapter03          # criterion: overlay upper dir -> layer diff (chapter 03)")
p("```")
print("\n".join(out))
