"""docker-py's exec_run against the daemon at DOCKER_HOST, N times.

Each call prints known bytes on stdout and on stderr and exits with a known
code; every byte and the code must come back. docker-py reads the hijacked
stream straight from the socket after http.client read the 101 headers
through its own buffer: output that reached the client together with the
headers would be lost. Usage: exec_run.py IMAGE COUNT. Prints
"N passed, N failed" and exits non-zero on any loss.
"""
import sys

import docker


def main():
    image, count = sys.argv[1], int(sys.argv[2])
    client = docker.from_env(version="1.41")
    c = client.containers.run(image, ["sleep", "600"], detach=True,
                              network_mode="none")
    failures = []
    try:
        for i in range(count):
            code_want = i % 7
            # Every fifth call prints more than one frame's worth (64 KiB of
            # stdout), to check framing as well as the first bytes.
            big = 64 * 1024 if i % 5 == 0 else 0
            script = (
                f"echo out-{i}; echo err-{i} >&2; "
                f"head -c {big} /dev/zero | tr '\\0' x; exit {code_want}"
            )
            try:
                res = c.exec_run(["sh", "-c", script], demux=True)
            except ValueError as e:  # a frame header read from the middle
                failures.append(f"call {i}: the stream lost sync: {e}")
                continue
            out, err = res.output
            want_out = f"out-{i}\n".encode() + b"x" * big
            want_err = f"err-{i}\n".encode()
            if res.exit_code != code_want or out != want_out or err != want_err:
                failures.append(
                    f"call {i}: exit {res.exit_code} (want {code_want}), "
                    f"stdout {(out or b'')[:40]!r}… {len(out or b'')} bytes "
                    f"(want {len(want_out)}), stderr {err!r}"
                )
            # The same without demux (one stream, stdout only): exact bytes.
            res = c.exec_run(["echo", f"plain-{i}"])
            if res.exit_code != 0 or res.output != f"plain-{i}\n".encode():
                failures.append(f"call {i} (plain): exit {res.exit_code}, {res.output!r}")
    finally:
        c.remove(force=True)
    for f in failures[:20]:
        print(f)
    print(f"docker-py {docker.__version__}: {2 * count - len(failures)} passed, "
          f"{len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
