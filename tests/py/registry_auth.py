"""docker-py's documented registry credentials: auth_config with only a
username and a password (no server address), for push and pull, against the
registry at HOST that requires them.

Usage: registry_auth.py HOST USER PASSWORD LOCAL_IMAGE. Prints
"N passed, N failed" and exits non-zero on a failure.
"""
import sys

import docker


def push_log(client, repo, tag, auth):
    kwargs = {"auth_config": auth} if auth else {}
    return list(client.api.push(repo, tag, stream=True, decode=True, **kwargs))


def main():
    host, user, password, local = sys.argv[1:5]
    client = docker.from_env(version="1.41")
    auth = {"username": user, "password": password}
    repo = f"{host}/team/pyauth"
    checks = []

    def check(name, ok, detail=""):
        checks.append(ok)
        print(f"{'ok  ' if ok else 'FAIL'} {name} {detail if not ok else ''}")

    image = client.images.get(local)
    image.tag(repo, "v1")

    # Without credentials the registry refuses the push.
    log = push_log(client, repo, "v1", None)
    check("push without credentials is refused",
          any("error" in m for m in log), log)

    # With them (no serveraddress): pushed, with the digest in the aux line.
    log = push_log(client, repo, "v1", auth)
    digests = [m["aux"]["Digest"] for m in log if "aux" in m]
    check("push with auth_config succeeds",
          not any("error" in m for m in log) and digests, log)

    client.images.remove(f"{repo}:v1")

    # Without credentials the pull is refused.
    try:
        client.images.pull(repo, tag="v1")
        check("pull without credentials is refused", False, "it succeeded")
    except docker.errors.APIError as e:
        check("pull without credentials is refused", True)
        print(f"     ({e.explanation})")

    # With them: the same image comes back.
    pulled = client.images.pull(repo, tag="v1", auth_config=auth)
    check("pull with auth_config gets the image", pulled.id == image.id,
          f"{pulled.id} != {image.id}")

    failed = checks.count(False)
    print(f"docker-py {docker.__version__}: {len(checks) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
