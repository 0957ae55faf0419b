#!/usr/bin/env bash
# tests/agent/runtime-vmi.sh BUILD (e.g. build/asan): the VMI runtime on
# the bare host (tests/agent/rt_test.c): the real store, loop and
# drover-vmm, booting the PVH test payload from containerDisks built here
# (ext2 images made with mke2fs -d, /boot/grub/menu.lst naming the
# payload and its command line). Root and /dev/kvm, else SKIP.
set -uo pipefail
build=${1:-build/asan}
bin=$build/bin
payload=$build/tests/payloads/pvh.elf
prog=$build/tests/agent_rt_test
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

if [ ! -x "$prog" ] || [ ! -x "$bin/drover-vmm" ] || [ ! -f "$payload" ]; then
	echo "not ok - runtime: $prog, $bin/drover-vmm and $payload built"
	exit 1
fi
if ! command -v mke2fs > /dev/null; then
	echo "ok - runtime # SKIP no mke2fs"
	exit 0
fi
T=$(mktemp -d /tmp/rt-disks.XXXXXX)
trap 'rm -rf "$T"' EXIT

# disk NAME CMDLINE: an ext2 containerDisk booting the payload; no
# CMDLINE: no GRUB configuration at all.
disk() {
	mkdir -p "$T/$1/boot/grub"
	cp "$payload" "$T/$1/boot/vmlinuz"
	[ -n "$2" ] && printf 'default 0\ntimeout 0\ntitle payload\nkernel /boot/vmlinuz %s\n' \
		"$2" > "$T/$1/boot/grub/menu.lst"
	mke2fs -q -F -t ext2 -d "$T/$1" "$T/$1.raw" 8M > /dev/null
}
disk spin "boottimer spin"
disk reboot "boottimer"
disk noboot ""
disk stop "boottimer ctrlaltdel"
disk login "spin login:"
"$prog" "$(realpath "$bin/drover-vmm")" "$T/spin.raw" "$T/reboot.raw" \
	"$T/noboot.raw" "$T/stop.raw" "$T/login.raw"
