#!/usr/bin/env bash
# tests/node/qemu-baseline.sh: builds (once, cached by input hash) the extra
# initrd that puts the host's QEMU into the node as a benchmark baseline, and
# prints its path. The cpio.gz holds, under /opt/qemu:
#   bin/qemu-system-x86_64, lib/ (every shared library from ldd + the
#   dynamic loader), share/ (SeaBIOS's bios-256k.bin etc. and the x86
#   firmware of /usr/share/qemu), cidata.iso (NoCloud: volume "cidata",
#   JSON meta-data with local-hostname "baseline-vm", #! user-data),
#   run-guest and wait-login (tests/node/baseline/), linked into /usr/bin.
# QEMU runs through its own loader (lib/ld-linux-x86-64.so.2 --library-path),
# so nothing of the node's own /lib is replaced.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/mk/common.sh"
HOSTNAME_VM=${BASELINE_HOSTNAME:-baseline-vm}
tmp=
QEMU=$(command -v qemu-system-x86_64) || die "qemu-system-x86_64 not installed (make deps)"

libs() { ldd "$QEMU" | awk '/=> \// { print $3 } /^\t\/.*ld-linux/ { print $1 }'; }

firmware() {
	ls /usr/share/seabios/*.bin /usr/share/seabios/*.aml
	ls /usr/share/qemu/{kvmvapic,linuxboot,linuxboot_dma,multiboot,multiboot_dma,pvh,sgabios}.bin \
		/usr/share/qemu/qboot.rom 2>/dev/null || true
}

input_hash() {
	{
		sha256sum "$here/qemu-baseline.sh" "$here/baseline/run-guest" "$here/baseline/wait-login" | cut -c1-64
		echo "$HOSTNAME_VM"
		dpkg-query -W qemu-system-x86 seabios libc6 2>/dev/null || true
		for f in "$QEMU" $(libs) $(firmware); do stat -L -c '%n %s %Y' "$f"; done
	} | sha256sum | cut -c1-16
}

make_cidata() {
	local dir=$1 out=$2
	mkdir -p "$dir"
	printf '{"instance-id": "iid-%s", "local-hostname": "%s"}\n' "$HOSTNAME_VM" "$HOSTNAME_VM" > "$dir/meta-data"
	printf '#!/bin/sh\necho "baseline user-data ran on $(hostname)"\n' > "$dir/user-data"
	genisoimage -quiet -output "$out" -volid cidata -joliet -rock "$dir/meta-data" "$dir/user-data"
}

build() {
	local out=$1 f
	tmp=$(mktemp -d "${out%/*}/.tmp.XXXXXX")
	trap 'rm -rf "${tmp:-}"' EXIT
	mkdir -p "$tmp/root/opt/qemu/"{bin,lib,share} "$tmp/root/usr/bin"
	install -m 0755 "$QEMU" "$tmp/root/opt/qemu/bin/"
	for f in $(libs); do cp -L "$f" "$tmp/root/opt/qemu/lib/"; done
	[ -e "$tmp/root/opt/qemu/lib/ld-linux-x86-64.so.2" ] || die "no dynamic loader in ldd output"
	for f in $(firmware); do cp -L "$f" "$tmp/root/opt/qemu/share/"; done
	make_cidata "$tmp/cidata" "$tmp/root/opt/qemu/cidata.iso"
	install -m 0755 "$here/baseline/run-guest" "$here/baseline/wait-login" "$tmp/root/opt/qemu/"
	ln -s /opt/qemu/run-guest "$tmp/root/usr/bin/run-guest"
	ln -s /opt/qemu/wait-login "$tmp/root/usr/bin/wait-login"
	(cd "$tmp/root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
		gzip -6 > "$tmp/out.cpio.gz"
	mv -f "$tmp/out.cpio.gz" "$out"
}

dir=$DROVER_CACHE/node-qemu
mkdir -p "$dir"
out=$dir/qemu-baseline-$(input_hash).cpio.gz
if [ ! -f "$out" ]; then
	msg "building $out"
	build "$out"
fi
printf '%s\n' "$out"
