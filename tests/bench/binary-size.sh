#!/usr/bin/env bash
# tests/bench/binary-size.sh: size of the static drover-vmm (musl, -Os,
# --gc-sections, stripped; issue 3: < 1 MiB), with the host's
# qemu-system-x86_64 for context: its binary alone, and with the shared
# libraries it loads (ldd), which the static drover-vmm has built in.
# Environment: DROVER_VMM (default build/static/drover-vmm), QEMU.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
vmm=${DROVER_VMM:-$BENCH_ROOT/build/static/drover-vmm}
qemu=${QEMU:-qemu-system-x86_64}
bench_need "$vmm" "make static"
qpath=$(command -v "$qemu") || bench_cannot "$qemu not installed (make deps)"
qpath=$(readlink -f "$qpath")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-size.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Stripped sizes: strip copies (a no-op for the static build, linked -s).
strip -o "$tmp/vmm" "$vmm" 2> /dev/null || bench_cannot "strip failed on $vmm"
strip -o "$tmp/qemu" "$qpath" 2> /dev/null || cp "$qpath" "$tmp/qemu"
d=$(stat -c %s "$tmp/vmm")
q=$(stat -c %s "$tmp/qemu")
libs=0
while read -r lib; do
	[ -f "$lib" ] && libs=$((libs + $(stat -L -c %s "$lib")))
done < <(ldd "$qpath" 2> /dev/null | awk '/=> \// { print $3 } /^\t\/.*ld-linux/ { print $1 }')
kib() { bench_calc "$1 / 1024" 1; }
mib() { bench_calc "$1 / 1048576" 1; }
echo "drover-vmm: ${vmm#$BENCH_ROOT/}: $(file -b "$vmm" | sed 's/, BuildID[^,]*//')"
echo "  size: $d bytes ($(kib "$d") KiB; on disk $(stat -c %s "$vmm") bytes), text/data/bss: $(size "$vmm" | awk 'NR == 2 { print $1 "/" $2 "/" $3 }')"
echo "qemu: $qpath ($(dpkg-query -W -f '${Package} ${Version}' qemu-system-x86 2> /dev/null || echo '?'))"
echo "  size: $q bytes stripped ($(mib "$q") MiB), + $(mib "$libs") MiB of shared libraries (ldd)"
ratio=$(bench_calc "$d / $q" 4)
echo "drover-vmm / qemu binary = $ratio; target: drover-vmm < 1 MiB (1048576 bytes)"
bench_result "drover-vmm static, stripped" "$(kib "$d") KiB" "qemu-system-x86_64 $(mib "$q") MiB (+$(mib "$libs") MiB libs)" \
	"$ratio of qemu" "< 1 MiB" "$(bench_yesno "$d" '<' 1048576)"
