"""The docker-py calls most programs make, one after another, against the
daemon at DOCKER_HOST: images, containers (run detached and not, logs,
exec_run, archives, stats, pause/unpause, update, export, cpu and shm
settings), networks, volumes and the prune calls.

Usage: common_calls.py IMAGE PREFIX. Each check prints ok/FAIL with its
cause; the last line is "N passed, N failed"; exits non-zero on a failure.
"""
import io
import sys
import tarfile
import traceback

import docker

results = []


def check(name):
    """Runs the decorated function now, as one named check."""
    def run(f):
        try:
            f()
            results.append(True)
            print(f"ok   {name}")
        except Exception as e:  # every failure is reported, the walk goes on
            results.append(False)
            print(f"FAIL {name}: {type(e).__name__}: {e}")
            traceback.print_exc(limit=3, file=sys.stdout)
        return f
    return run


def cgroup_value(pid, controller, v1_file, v2_file):
    """A file of process `pid`'s cgroup, read on the host: the v1
    `controller` hierarchy's `v1_file`, or the v2 group's `v2_file`."""
    v2 = None
    for line in open(f"/proc/{pid}/cgroup"):
        _, controllers, path = line.rstrip("\n").split(":", 2)
        if controller in controllers.split(","):
            with open(f"/sys/fs/cgroup/{controller}{path}/{v1_file}") as f:
                return f.read().strip()
        if controllers == "" and path != "/":
            with open(f"/sys/fs/cgroup{path}/{v2_file}") as f:
                v2 = f.read().strip()
    return v2


def main():
    image, prefix = sys.argv[1], sys.argv[2]
    client = docker.from_env(version="1.41")
    made = {"containers": [], "networks": [], "volumes": []}

    @check("ping and version")
    def _():
        assert client.ping()
        assert client.version()["ApiVersion"]
        assert "Containers" in client.info()

    @check("images: list, get, tag, remove")
    def _():
        ids = [i.id for i in client.images.list()]
        img = client.images.get(image)
        assert img.id in ids, (img.id, ids)
        assert img.tag(f"{prefix}-tagged", "v2")
        again = client.images.get(f"{prefix}-tagged:v2")
        assert again.id == img.id
        assert f"{prefix}-tagged:v2" in again.tags, again.tags
        client.images.remove(f"{prefix}-tagged:v2")
        assert f"{prefix}-tagged:v2" not in client.images.get(image).tags

    @check("containers.run, not detached: the output")
    def _():
        out = client.containers.run(image, ["sh", "-c", "echo out; echo err >&2"],
                                    network_mode="none", remove=True)
        assert out == b"out\n", out
        out = client.containers.run(image, ["sh", "-c", "echo err >&2"],
                                    network_mode="none", remove=True,
                                    stdout=False, stderr=True)
        assert out == b"err\n", out

    @check("containers.run, not detached: a failure raises ContainerError")
    def _():
        try:
            client.containers.run(image, ["sh", "-c", "echo bad >&2; exit 3"],
                                  network_mode="none", remove=True)
            raise AssertionError("no ContainerError")
        except docker.errors.ContainerError as e:
            assert e.exit_status == 3, e.exit_status

    box = {}

    @check("containers.run detached, reload, list, logs")
    def _():
        c = client.containers.run(image, ["sh", "-c", "echo hello; sleep 600"],
                                  detach=True, name=f"{prefix}-c",
                                  network_mode="none", labels={"k": "v"})
        made["containers"].append(c)
        box["c"] = c
        c.reload()
        assert c.status == "running", c.status
        assert c.labels == {"k": "v"}, c.labels
        assert c.id in [x.id for x in client.containers.list(filters={"label": "k=v"})]
        for _ in range(200):
            if c.logs() == b"hello\n":
                break
        assert c.logs() == b"hello\n", c.logs()
        assert c.logs(stdout=False) == b""

    @check("exec_run")
    def _():
        r = box["c"].exec_run(["sh", "-c", "echo x; exit 2"])
        assert (r.exit_code, r.output) == (2, b"x\n"), r

    @check("put_archive, get_archive")
    def _():
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w") as t:
            body = b"through the archive\n"
            info = tarfile.TarInfo("put.txt")
            info.size = len(body)
            t.addfile(info, io.BytesIO(body))
        assert box["c"].put_archive("/tmp", data.getvalue())
        stream, stat = box["c"].get_archive("/tmp/put.txt")
        assert stat["name"] == "put.txt" and stat["size"] == 20, stat
        raw = b"".join(stream)
        with tarfile.open(fileobj=io.BytesIO(raw)) as t:
            assert t.extractfile("put.txt").read() == b"through the archive\n"

    @check("stats(stream=False)")
    def _():
        s = box["c"].stats(stream=False)
        assert "memory_stats" in s and "cpu_stats" in s, list(s)
        assert s["memory_stats"].get("usage", 0) > 0, s["memory_stats"]

    @check("run with cpu_quota, cpu_period, shm_size: applied")
    def _():
        c = client.containers.run(image, ["sh", "-c", "df -k /dev/shm | tail -1; sleep 600"],
                                  detach=True, network_mode="none",
                                  cpu_period=100000, cpu_quota=50000, shm_size="16m")
        made["containers"].append(c)
        c.reload()
        assert c.attrs["HostConfig"]["LogConfig"]["Type"], c.attrs["HostConfig"]
        pid = c.attrs["State"]["Pid"]
        assert cgroup_value(pid, "cpu", "cpu.cfs_quota_us", "cpu.max") in ("50000", "50000 100000")
        assert cgroup_value(pid, "cpu", "cpu.cfs_period_us", "cpu.max") \
            in ("100000", "50000 100000")
        for _ in range(200):
            if c.logs():
                break
        assert c.logs().split()[1] == b"16384", c.logs()

    @check("pause, unpause: the freezer; update: the live cgroup; export")
    def _():
        c = box["c"]
        pid = c.attrs["State"]["Pid"]
        c.pause()
        c.reload()
        assert c.status == "paused", c.status
        assert cgroup_value(pid, "freezer", "freezer.state", "cgroup.freeze") in ("FROZEN", "1")
        c.unpause()
        c.reload()
        assert c.status == "running", c.status
        assert cgroup_value(pid, "freezer", "freezer.state", "cgroup.freeze") in ("THAWED", "0")
        c.update(mem_limit="64m", memswap_limit="128m")
        assert cgroup_value(pid, "memory", "memory.limit_in_bytes", "memory.max") == str(64 << 20)
        c.reload()
        assert c.attrs["HostConfig"]["Memory"] == 64 << 20, c.attrs["HostConfig"]["Memory"]
        data = b"".join(c.export())
        with tarfile.open(fileobj=io.BytesIO(data)) as t:
            names = t.getnames()
        assert any(n.lstrip("./") == "bin/sh" for n in names), names[:20]

    @check("stop, wait, remove")
    def _():
        c = client.containers.run(image, ["sleep", "600"], detach=True,
                                  network_mode="none")
        c.stop(timeout=1)
        assert c.wait(timeout=30)["StatusCode"] == 137
        c.remove()
        try:
            client.containers.get(c.id)
            raise AssertionError("still there")
        except docker.errors.NotFound:
            pass

    @check("networks: create, connect, inspect, disconnect, remove")
    def _():
        a = client.networks.create(f"{prefix}-a", labels={"l": "1"})
        b = client.networks.create(f"{prefix}-b")
        made["networks"] += [a, b]
        c = client.containers.run(image, ["sleep", "600"], detach=True,
                                  network=a.name)
        made["containers"].append(c)
        b.connect(c)
        c.reload()
        nets = c.attrs["NetworkSettings"]["Networks"]
        assert set(nets) == {a.name, b.name}, nets
        b.reload()
        assert c.id in b.attrs["Containers"], b.attrs["Containers"]
        assert a.attrs["Labels"] == {"l": "1"}, a.attrs["Labels"]
        b.disconnect(c)
        c.remove(force=True)
        made["containers"].remove(c)
        a.remove()
        b.remove()
        made["networks"].clear()
        names = [n.name for n in client.networks.list()]
        assert f"{prefix}-a" not in names, names

    @check("volumes: create, get, remove")
    def _():
        v = client.volumes.create(f"{prefix}-v", labels={"x": "y"})
        made["volumes"].append(v)
        assert client.volumes.get(v.name).attrs["Labels"] == {"x": "y"}
        assert v.name in [x.name for x in client.volumes.list()]
        v.remove()
        made["volumes"].clear()

    @check("prune: containers, images, networks, volumes")
    def _():
        dead = client.containers.run(image, ["true"], detach=True,
                                     network_mode="none")
        dead.wait(timeout=30)
        r = client.containers.prune()
        assert dead.id in (r.get("ContainersDeleted") or []), r
        client.volumes.create(f"{prefix}-unused")
        r = client.volumes.prune()
        assert f"{prefix}-unused" in (r.get("VolumesDeleted") or []), r
        client.networks.create(f"{prefix}-unused")
        r = client.networks.prune()
        assert f"{prefix}-unused" in (r.get("NetworksDeleted") or []), r
        r = client.images.prune()
        assert "SpaceReclaimed" in r, r

    for c in made["containers"]:
        try:
            c.remove(force=True)
        except docker.errors.APIError:
            pass
    for n in made["networks"]:
        try:
            n.remove()
        except docker.errors.APIError:
            pass
    failed = results.count(False)
    print(f"docker-py {docker.__version__}: {len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
