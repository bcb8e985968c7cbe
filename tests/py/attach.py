"""docker-py's attach to a running container that prints all the time,
COUNT times: every attach's first frames must be whole frames holding only the
container's output (a frame header misread from the middle shows as a
wrong stream or size, or foreign bytes). docker-py reads the raw socket after http.client read
the 101 headers through its own buffer: output that reached the client
together with the headers would be lost, and the frames after it misread.

Usage: attach.py IMAGE COUNT. Prints "N passed, N failed".
"""
import re
import socket
import sys

import docker
from docker.utils.socket import next_frame_header, read_exactly

# The shim frames what each read of the pipe gave (up to 32 KiB), so a
# frame may start or end inside a line; it holds nothing but the output.
TICK = re.compile(rb"^[tick0-9\n-]+$")


def main():
    image, count = sys.argv[1], int(sys.argv[2])
    client = docker.from_env(version="1.41", timeout=20)
    c = client.containers.run(
        image, ["sh", "-c", "i=0; while true; do echo tick-$i; i=$((i+1)); usleep 200; done"],
        detach=True, network_mode="none")
    failures = []
    try:
        for i in range(count):
            s = client.api.attach_socket(c.id, params={"stdout": 1, "stderr": 1, "stream": 1})
            raw = s._sock if hasattr(s, "_sock") else s
            raw.settimeout(10)
            try:
                for n in range(3):
                    stream, size = next_frame_header(s)
                    data = read_exactly(s, size) if size > 0 else b""
                    if stream != 1 or size > 65536 or not TICK.match(data):
                        failures.append(f"attach {i}, frame {n}: stream {stream}, "
                                        f"{size} bytes, {data[:40]!r}")
                        break
            except (OSError, socket.timeout) as e:
                failures.append(f"attach {i}: {e}")
            finally:
                raw.shutdown(socket.SHUT_RDWR)
                raw.close()
    finally:
        c.remove(force=True)
    for f in failures[:20]:
        print(f)
    print(f"docker-py {docker.__version__}: {count - len(failures)} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
