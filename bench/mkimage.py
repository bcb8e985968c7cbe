#!/usr/bin/env python3
"""Writes an OCI image layout from ready-made layer tarballs, so the benchmark
needs no engine to make its images (skopeo then copies the layout to a
registry on 127.0.0.1).

    mkimage.py OUT_DIR TAG CMD LAYER.tar [LAYER.tar ...]

Each LAYER.tar is gzipped next to itself (LAYER.tar.gz, `gzip -n -6`, as
Docker compresses) unless that file already exists.
"""
import hashlib
import json
import os
import subprocess
import sys


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def put_blob(out, data=None, path=None):
    blobs = os.path.join(out, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)
    if path is not None:
        hexd = sha256_file(path)
        dest = os.path.join(blobs, hexd)
        if not os.path.exists(dest):
            subprocess.run(["cp", path, dest], check=True)
        return hexd, os.path.getsize(path)
    hexd = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, hexd), "wb") as f:
        f.write(data)
    return hexd, len(data)


def main():
    out, tag, cmd, layers = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    os.makedirs(out, exist_ok=True)
    diff_ids, descs = [], []
    for tar in layers:
        gz = tar + ".gz"
        if not os.path.exists(gz):
            with open(gz, "wb") as f:
                subprocess.run(["gzip", "-n", "-6", "-c", tar], stdout=f, check=True)
        diff_ids.append("sha256:" + sha256_file(tar))
        hexd, size = put_blob(out, path=gz)
        descs.append({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": "sha256:" + hexd,
            "size": size,
        })
    config = {
        "created": "2026-01-01T00:00:00Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": [cmd]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2026-01-01T00:00:00Z", "created_by": "bench/run.sh layer %d" % i}
                    for i in range(len(layers))],
    }
    chex, csize = put_blob(out, data=json.dumps(config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": "sha256:" + chex, "size": csize},
        "layers": descs,
    }
    mhex, msize = put_blob(out, data=json.dumps(manifest, sort_keys=True).encode())
    with open(os.path.join(out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    index_path = os.path.join(out, "index.json")
    index = {"schemaVersion": 2, "manifests": []}
    if os.path.exists(index_path):
        index = json.load(open(index_path))
    index["manifests"] = [m for m in index["manifests"]
                          if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != tag]
    index["manifests"].append({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": "sha256:" + mhex, "size": msize,
        "annotations": {"org.opencontainers.image.ref.name": tag},
    })
    with open(index_path, "w") as f:
        json.dump(index, f)
    print(json.dumps({"tag": tag, "compressed": sum(d["size"] for d in descs),
                      "uncompressed": sum(os.path.getsize(t) for t in layers),
                      "layers": len(layers)}))


if __name__ == "__main__":
    main()
