#!/usr/bin/env python3
"""mkoci.py DISK.qcow2 OUT.tar: an OCI image archive like KubeVirt's
containerDisk demo images: one uncompressed layer holding disk/disk.qcow2
(uid/gid 107, mode 0440), an amd64/linux config, a manifest and an index,
laid out as an OCI image layout (oci-layout, index.json, blobs/sha256/)
and packed in a tar. Reproducible: fixed mtimes, sorted entries."""
import hashlib
import io
import json
import os
import sys
import tarfile

MTIME = 0
CREATED = "1970-01-01T00:00:00Z"
QEMU_UID = 107  # KubeVirt's qemu user


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def make_layer(disk, out):
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
        d = tarfile.TarInfo("disk")
        d.type, d.mode, d.uid, d.gid, d.mtime = tarfile.DIRTYPE, 0o555, QEMU_UID, QEMU_UID, MTIME
        t.addfile(d)
        f = tarfile.TarInfo("disk/disk.qcow2")
        f.size, f.mode, f.uid, f.gid, f.mtime = os.path.getsize(disk), 0o440, QEMU_UID, QEMU_UID, MTIME
        with open(disk, "rb") as src:
            t.addfile(f, src)


def blob_bytes(data):
    return hashlib.sha256(data).hexdigest(), len(data)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: mkoci.py DISK.qcow2 OUT.tar")
    disk, out = sys.argv[1], sys.argv[2]
    layer = out + ".layer"
    make_layer(disk, layer)
    layer_digest, layer_size = sha256_file(layer), os.path.getsize(layer)

    config = {
        "created": CREATED,
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + layer_digest]},
        "history": [{"created": CREATED, "created_by": "drover boot/guest/mkoci.py: ADD disk/disk.qcow2"}],
    }
    config_data = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    config_digest, config_size = blob_bytes(config_data)

    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": "sha256:" + config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": "sha256:" + layer_digest, "size": layer_size}],
    }
    manifest_data = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    manifest_digest, manifest_size = blob_bytes(manifest_data)

    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": "sha256:" + manifest_digest, "size": manifest_size,
                       "annotations": {"org.opencontainers.image.ref.name": "latest"}}],
    }
    index_data = json.dumps(index, sort_keys=True, separators=(",", ":")).encode()
    layout_data = json.dumps({"imageLayoutVersion": "1.0.0"}).encode()

    def add_dir(t, name):
        i = tarfile.TarInfo(name)
        i.type, i.mode, i.mtime = tarfile.DIRTYPE, 0o755, MTIME
        t.addfile(i)

    def add_bytes(t, name, data):
        i = tarfile.TarInfo(name)
        i.size, i.mode, i.mtime = len(data), 0o644, MTIME
        t.addfile(i, io.BytesIO(data))

    tmp = out + ".tmp"
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as t:
        add_bytes(t, "oci-layout", layout_data)
        add_bytes(t, "index.json", index_data)
        add_dir(t, "blobs")
        add_dir(t, "blobs/sha256")
        add_bytes(t, "blobs/sha256/" + config_digest, config_data)
        add_bytes(t, "blobs/sha256/" + manifest_digest, manifest_data)
        i = tarfile.TarInfo("blobs/sha256/" + layer_digest)
        i.size, i.mode, i.mtime = layer_size, 0o644, MTIME
        with open(layer, "rb") as src:
            t.addfile(i, src)
    os.unlink(layer)
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
