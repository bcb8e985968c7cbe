"""docker-py's images.get_registry_data (GET /distribution/{name}/json)
against the registry at HOST that requires USER/PASSWORD: the daemon asks
the registry with the request's X-Registry-Auth.

Usage: registry_data.py HOST USER PASSWORD LOCAL_IMAGE. Prints the pushed
digest and the registry data as JSON on the last line.
"""
import json
import sys

import docker


def main():
    host, user, password, local = sys.argv[1:5]
    client = docker.from_env(version="1.41")
    auth = {"username": user, "password": password}
    repo = f"{host}/team/dist"
    client.images.get(local).tag(repo, "v1")
    pushed = None
    for line in client.api.push(repo, "v1", stream=True, decode=True, auth_config=auth):
        if "error" in line:
            sys.exit(f"push failed: {line}")
        aux = line.get("aux") or {}
        pushed = aux.get("Digest", pushed)
    data = client.images.get_registry_data(f"{repo}:v1", auth_config=auth)
    try:
        client.images.get_registry_data(f"{repo}:v1")
        anonymous = "allowed"
    except docker.errors.APIError as e:
        anonymous = f"{e.status_code} {e.explanation}"
    print(json.dumps({
        "pushed": pushed,
        "id": data.id,
        "attrs": data.attrs,
        "has_amd64": data.has_platform("linux/amd64"),
        "anonymous": anonymous,
    }))


main()
