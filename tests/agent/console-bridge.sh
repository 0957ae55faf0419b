#!/usr/bin/env bash
# tests/agent/console-bridge.sh BUILD (e.g. build/asan): the console
# subresource's handler (agent/kapi_console.c) on the real VMI runtime and
# drover-vmm (tests/agent/console_bridge.c), the PVH test payload booted in
# echo mode from an ext2 containerDisk built here (as runtime-vmi.sh
# does). Root and /dev/kvm, else SKIP.
set -uo pipefail
build=${1:-build/asan}
bin=$build/bin
payload=$build/tests/payloads/pvh.elf
prog=$build/tests/agent_console_bridge
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

if [ ! -x "$prog" ] || [ ! -x "$bin/drover-vmm" ] || [ ! -f "$payload" ]; then
	echo "not ok - console-bridge: $prog, $bin/drover-vmm and $payload built"
	exit 1
fi
if ! command -v mke2fs > /dev/null; then
	echo "ok - console-bridge # SKIP no mke2fs"
	exit 0
fi
T=$(mktemp -d /tmp/console-bridge-disk.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/d/boot/grub"
cp "$payload" "$T/d/boot/vmlinuz"
printf 'default 0\ntimeout 0\ntitle payload\nkernel /boot/vmlinuz boottimer echo\n' \
	> "$T/d/boot/grub/menu.lst"
mke2fs -q -F -t ext2 -d "$T/d" "$T/echo.raw" 8M > /dev/null
"$prog" "$(realpath "$bin/drover-vmm")" "$T/echo.raw"
