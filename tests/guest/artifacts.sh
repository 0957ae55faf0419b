#!/usr/bin/env bash
# tests/guest/artifacts.sh [GUESTDIR]   (default build/guest)
#
# Static checks of what boot/guest/build.sh made (no VM): the initramfs
# (files, ownership, modules and modules.dep), disk.qcow2 (qcow2, GPT,
# ext3 'cirros-rootfs' with vmlinuz/initrd.img/menu.lst, vfat p15), the OCI
# archive (layout, digests, config, layer), mkcidata.sh's ISO, and that an
# unchanged rebuild is a no-op. TAP-style output; exit 0 iff all passed.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/mk/common.sh"
set +e  # every check runs; failures are counted

guest=${1:-$root/build/guest}
guest=$(cd "$guest" 2>/dev/null && pwd) || { echo "not ok - guest dir $1 exists"; exit 1; }
work=$(mktemp -d /tmp/drover-artifacts.XXXXXX)
trap 'rm -rf "$work"' EXIT
npass=0 nfail=0

# t NAME CMD...: one check.
t() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		echo "ok - $name"; npass=$((npass + 1))
	else
		echo "not ok - $name"; nfail=$((nfail + 1))
		printf '%s\n' "$out" | tail -n 5 | sed 's/^/# | /'
	fi
}

have_all() {
	local f
	for f in vmlinuz initramfs disk.qcow2 cirros-container-disk-demo.tar .inputs; do
		[ -s "$guest/$f" ] || { echo "missing $guest/$f"; return 1; }
	done
}
t "artifacts present in $guest" have_all || true
[ "$nfail" = 0 ] || exit 1

kver=$(awk '$1 == "kernel" {print $2}' "$guest/.inputs")
variant=$(awk '$1 == "variant" {print $2}' "$guest/.inputs")
echo "# variant: $variant, kernel $kver"
echo "# sizes: $(cd "$guest" && du -k vmlinuz initramfs disk.qcow2 cirros-container-disk-demo.tar | awk '{printf "%s=%d KiB ", $2, $1}')"

# ---- vmlinuz and initramfs ------------------------------------------------
t "vmlinuz is an x86 kernel image" bash -c "file -b '$guest/vmlinuz' | grep -q 'Linux kernel x86 boot executable'"
mkdir -p "$work/ird"
(cd "$work/ird" && zcat "$guest/initramfs" | cpio -idm --quiet --no-absolute-filenames 2>/dev/null)
zcat "$guest/initramfs" | cpio -tv --quiet --numeric-uid-gid > "$work/ird.list" 2>/dev/null
t "initramfs is a gzip newc cpio with /init" test -x "$work/ird/init"
t "/etc/issue is CirrOS's" bash -c "[ \"\$(cat '$work/ird/etc/issue' | sed '/^\$/d')\" = \"login as 'cirros' user. default password: 'gocubsgo'. use 'sudo' for root.\" ]"
t "cirros is uid 1000 in /etc/passwd" grep -q '^cirros:x:1000:1000:' "$work/ird/etc/passwd"
t "cirros has a crypt hash in /etc/shadow" grep -Eq '^cirros:\$[0-9a-z]+\$[^:]+:' "$work/ird/etc/shadow"
owner_of() { awk -v p="$1" '$NF == p {print $3 ":" $4; exit}' "$work/ird.list"; }
t "etc and init are owned by root:root" bash -c "[ '$(owner_of etc)' = 0:0 ] && [ '$(owner_of init)' = 0:0 ] && [ '$(owner_of etc/shadow)' = 0:0 ]"
t "home/cirros is owned by 1000:1000" test "$(owner_of home/cirros)" = 1000:1000
t "sudo is set-uid root" bash -c "awk '\$NF == \"usr/bin/sudo\" && \$1 ~ /^-rws/ && \$3 == 0 {f=1} END {exit !f}' '$work/ird.list'"
md=$work/ird/lib/modules/$kver
t "modules.dep made by depmod for $kver" test -s "$md/modules.dep"
mods_ok() {
	local m missing=""
	for m in virtio virtio_ring virtio_pci virtio_pci_modern_dev virtio_pci_legacy_dev virtio_blk \
		virtio_net net_failover failover isofs vfat fat nls_cp437 nls_iso8859-1 nls_utf8 nls_ascii \
		ext4 jbd2 mbcache crc16 crc32c_generic; do
		grep -q "/$m.ko:" "$md/modules.dep" || missing="$missing $m"
	done
	[ -z "$missing" ] || { echo "missing:$missing"; return 1; }
}
t "initramfs has the virtio, fs and nls modules" mods_ok
deps_closed() {
	local f bad=""
	while read -r f; do
		[ -f "$md/$f" ] || bad="$bad $f"
	done < <(tr ' :' '\n\n' < "$md/modules.dep" | sed '/^$/d' | sort -u)
	[ -z "$bad" ] || { echo "listed but absent:$bad"; return 1; }
}
t "every module modules.dep names is present" deps_closed
t "initramfs keeps only the needed modules (< 60)" test "$(find "$md" -name '*.ko' | wc -l)" -lt 60

# ---- disk.qcow2 --------------------------------------------------------------
qemu-img info --output=json "$guest/disk.qcow2" > "$work/qinfo.json"
t "disk.qcow2 is qcow2, 112 MiB virtual" python3 -c "
import json, sys; i = json.load(open('$work/qinfo.json'))
sys.exit(not (i['format'] == 'qcow2' and i['virtual-size'] == 112 << 20))"
qemu-img convert -O qcow2 "$guest/disk.qcow2" "$work/plain.qcow2"
t "disk.qcow2 uses compressed clusters (smaller than an uncompressed copy)" \
	test "$(stat -c %s "$guest/disk.qcow2")" -lt "$(stat -c %s "$work/plain.qcow2")"
rm -f "$work/plain.qcow2"
qemu-img convert -O raw "$guest/disk.qcow2" "$work/disk.raw"
sfdisk -d "$work/disk.raw" > "$work/pt" 2>/dev/null
t "GPT partition table" grep -q '^label: gpt' "$work/pt"
part() { awk -F'[=,]' -v p="disk.raw$1:start" '{gsub(/ /,"")} substr($1, length($1) - length(p) + 1) == p {print $2, $4, $6}' "$work/pt"; }
read -r s1 n1 ty1 < <(part 1)
read -r s15 n15 ty15 < <(part 15)
t "partition 15: 8 MiB EFI system partition" test "${n15:-0}" = 16384 -a "${ty15:-}" = C12A7328-F81F-11D2-BA4B-00A0C93EC93B
t "partition 1: Linux filesystem" test -n "${n1:-}" -a "${ty1:-}" = 0FC63DAF-8483-4772-8E79-3D69D8477DE4
dd if="$work/disk.raw" of="$work/p1" bs=512 skip="${s1:-0}" count="${n1:-0}" status=none
dd if="$work/disk.raw" of="$work/p15" bs=512 skip="${s15:-0}" count="${n15:-0}" status=none
t "partition 1 is ext3 labelled cirros-rootfs" bash -c "blkid -p -o export '$work/p1' | grep -qx TYPE=ext3 && blkid -p -o export '$work/p1' | grep -qx LABEL=cirros-rootfs"
t "partition 15 is vfat" bash -c "blkid -p -o export '$work/p15' | grep -qx TYPE=vfat"
debugfs -R 'dump /initrd.img '"$work/initrd.img" "$work/p1" >/dev/null 2>&1
debugfs -R 'dump /vmlinuz '"$work/vmlinuz" "$work/p1" >/dev/null 2>&1
debugfs -R 'cat /boot/grub/menu.lst' "$work/p1" > "$work/menu.lst" 2>/dev/null
t "cirros-rootfs holds initrd.img = initramfs" cmp "$work/initrd.img" "$guest/initramfs"
t "cirros-rootfs holds vmlinuz" cmp "$work/vmlinuz" "$guest/vmlinuz"
t "menu.lst has CirrOS's kernel line" grep -qx 'kernel /vmlinuz LABEL=cirros-rootfs ro console=tty1 console=ttyS0' "$work/menu.lst"
t "menu.lst has the initrd line" grep -qx 'initrd /initrd.img' "$work/menu.lst"
rm -f "$work/disk.raw" "$work/p1" "$work/p15"

# ---- OCI archive ---------------------------------------------------------------
oci=$guest/cirros-container-disk-demo.tar
mkdir -p "$work/oci"
tar -xf "$oci" -C "$work/oci"
t "OCI layout: oci-layout, index.json, digests, amd64/linux config, layer disk/disk.qcow2 107:107 0440" \
	python3 - "$work/oci" "$guest/disk.qcow2" <<'PY'
import hashlib, json, os, sys, tarfile
d, disk = sys.argv[1], sys.argv[2]
def blob(desc):
    alg, hexd = desc["digest"].split(":")
    p = os.path.join(d, "blobs", alg, hexd)
    data = open(p, "rb").read()
    assert hashlib.sha256(data).hexdigest() == hexd, "digest mismatch " + hexd
    assert len(data) == desc["size"], "size mismatch " + hexd
    return p, data
assert json.load(open(os.path.join(d, "oci-layout")))["imageLayoutVersion"] == "1.0.0"
index = json.load(open(os.path.join(d, "index.json")))
assert index["schemaVersion"] == 2 and len(index["manifests"]) == 1
md = index["manifests"][0]
assert md["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
manifest = json.loads(blob(md)[1])
config = json.loads(blob(manifest["config"])[1])
assert config["architecture"] == "amd64" and config["os"] == "linux", config
assert len(manifest["layers"]) == 1
lp, _ = blob(manifest["layers"][0])
assert config["rootfs"]["diff_ids"] == [manifest["layers"][0]["digest"]]
with tarfile.open(lp) as t:
    m = t.getmember("disk/disk.qcow2")
    assert (m.uid, m.gid, m.mode) == (107, 107, 0o440), (m.uid, m.gid, oct(m.mode))
    h = hashlib.sha256(t.extractfile(m).read()).hexdigest()
assert h == hashlib.sha256(open(disk, "rb").read()).hexdigest(), "layer disk differs from disk.qcow2"
PY
if command -v skopeo >/dev/null; then
	t "skopeo inspect oci-archive: reads amd64/linux" bash -c "skopeo inspect 'oci-archive:$oci' | grep -q '\"Architecture\": \"amd64\"'"
else
	echo "ok - skopeo inspect oci-archive # SKIP skopeo not installed"
fi

# ---- mkcidata.sh ---------------------------------------------------------------
printf '#!/bin/sh\necho hi\n' > "$work/ud"
"$root/boot/guest/mkcidata.sh" "$work/seed.iso" vm1.example.org "$work/ud" > "$work/mkcidata.out" 2>&1
t "mkcidata.sh: ISO labelled cidata" bash -c "blkid -p -o export '$work/seed.iso' | grep -qx LABEL=cidata"
t "mkcidata.sh: JSON meta-data with local-hostname" bash -c "
	isoinfo -R -i '$work/seed.iso' -x /meta-data | python3 -c 'import json,sys; m=json.load(sys.stdin); sys.exit(m[\"local-hostname\"] != \"vm1.example.org\" or not m[\"instance-id\"])'"
t "mkcidata.sh: user-data copied" bash -c "isoinfo -R -i '$work/seed.iso' -x /user-data | cmp - '$work/ud'"

# ---- incremental build -----------------------------------------------------------
cirros=""
[ "$variant" != cirros ] || cirros=$(awk '$1 == "variant" {print $3}' "$guest/.inputs")
if [ -n "$cirros" ] && [ ! -f "$cirros" ]; then
	echo "ok - unchanged rebuild is a no-op # SKIP $cirros is gone"
else
	t0=$(date +%s.%N)
	"$root/boot/guest/build.sh" "$guest" $cirros > "$work/rebuild.out" 2>&1
	rc=$?
	dt=$(echo "$(date +%s.%N) - $t0" | bc 2>/dev/null || python3 -c "print(round($(date +%s.%N) - $t0, 2))")
	echo "# warm rebuild: $dt s"
	t "unchanged rebuild is a no-op in under a second" bash -c "[ $rc = 0 ] && grep -q 'up to date' '$work/rebuild.out' && python3 -c 'import sys; sys.exit(not $dt < 1.0)'"
fi

echo "# $npass passed, $nfail failed"
[ "$nfail" = 0 ]
