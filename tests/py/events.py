"""docker-py's events() against the daemon at DOCKER_HOST.

Usage: events.py IMAGE PREFIX. Runs a container that exits 3, then reads
its events back three ways: the past window (since and until both in the
past: the call returns), with a filter, and live (a stream opened before
the container is made). An unknown filter must be a 400. Prints
"N passed, N failed" and exits non-zero on a failure.
"""
import sys
import time

import docker


def main():
    image, prefix = sys.argv[1], sys.argv[2]
    client = docker.from_env(version="1.41")
    passed, failed = [], []

    def check(what, ok, detail=""):
        (passed if ok else failed).append(what)
        if not ok:
            print(f"FAIL {what}: {detail}")

    since = int(time.time()) - 1
    name = f"{prefix}-one"
    c = client.containers.run(image, ["sh", "-c", "exit 3"], name=name,
                              labels={"suite": "events", "run": prefix},
                              detach=True,
                              network_mode="none")
    c.wait()
    c.remove()
    time.sleep(1.1)
    until = int(time.time())

    past = list(client.events(since=since, until=until, decode=True,
                              filters={"container": name}))
    actions = [e["Action"] for e in past]
    check("the past window has the container's life",
          actions == ["create", "start", "die", "destroy"], actions)
    for e in past:
        attrs = e["Actor"]["Attributes"]
        check(f"{e['Action']} names the container and its label",
              attrs.get("name") == name and attrs.get("suite") == "events"
              and e["Type"] == "container" and e["id"] == c.id
              and e["time"] == e["timeNano"] // 10**9, e)

    # `since` is whole seconds: an earlier run's die may fall in the window,
    # so the filter names this run's label too (labels are ANDed).
    died = list(client.events(since=since, until=until, decode=True,
                              filters={"event": "die",
                                       "label": ["suite=events", f"run={prefix}"]}))
    check("the filters select the die, with its exit code",
          [(e["Action"], e["Actor"]["Attributes"].get("exitCode")) for e in died]
          == [("die", "3")], died)

    live = client.events(decode=True, filters={"container": f"{prefix}-two"})
    c2 = client.containers.create(image, ["true"], name=f"{prefix}-two",
                                  network_mode="none")
    first = next(live)
    check("a live stream gets the next event",
          (first["Action"], first["id"]) == ("create", c2.id), first)
    live.close()
    c2.remove()

    # docker-py's event stream swallows an error answer (its iterator turns
    # the OSError that APIError is into the end of the stream): the status
    # is read from the request itself.
    r = client.api._get(client.api._url("/events"),
                        params={"until": until, "filters": '{"colour":["red"]}'})
    check("an unknown filter is refused",
          r.status_code == 400 and "colour" in r.text, (r.status_code, r.text))

    print(f"{len(passed)} passed, {len(failed)} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
