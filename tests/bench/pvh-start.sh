#!/usr/bin/env bash
# tests/bench/pvh-start.sh: start-to-exit wall time and peak RSS of a
# trivial PVH guest, drover-vmm against QEMU microvm on this host's
# /dev/kvm (issue 3: start >= 10x faster, peak RSS <= 1/10 of QEMU's).
#
# The guest is the KVM tests' payload (tests/kvm/payloads, built for the
# benchmarks as build/bench/pvh.elf): it prints "hello from pvh", its
# command line and "bye" on COM1, then pulses the reset line through the
# i8042 (0xFE to port 0x64). Both VMMs run it to that same end:
#   drover-vmm --kernel pvh.elf --mem 128Mi --console stdio --rng off
#       --log-level warn                             (exit 3: reset)
# (--rng off: the same devices as QEMU's microvm here, which has no
# virtio-rng; cirros-node.sh does the same. With it: ~0.15 ms more.)
# (warn: its "VM stopping" info line would go to the same file as the
# console, possibly between two bytes of "bye"; QEMU logs nothing.)
#   qemu-system-x86_64 -M microvm,<lean options> -accel kvm
#       -cpu host,-arch-capabilities -m 128M -kernel pvh.elf -nodefaults
#       -no-user-config -nographic -serial stdio -device i8042 -no-reboot
# microvm has no i8042 unless asked for (-device i8042); with -no-reboot
# the reset ends QEMU (exit 0). QEMU gets its leanest microvm (no option
# ROMs, PIT, PIC, RTC, ACPI, PCIe or USB: ~25% faster than the defaults
# here), i.e. the anchor is QEMU at its best. Both write the console to a
# file (checked after every run: a run without "bye" or with another exit
# status means the benchmark cannot measure).
#
# build/bench/runstat runs each command BENCH_RUNS times (default 20)
# after one warm-up run: wall time from fork to wait4, peak RSS from
# wait4's ru_maxrss. runstat is a static musl binary on purpose: ru_maxrss
# includes the forked child's footprint before exec, ~600 KiB for a glibc
# parent (that is what /usr/bin/time -f %M reports for drover-vmm), ~0
# for runstat.
#
# build/bench/kvmfloor (tests/bench/kvmfloor.c) then times the same life
# with raw ioctls and no VMM, with and without an in-kernel irqchip: on
# this host destroying a VM with in-kernel devices waits for an SRCU grace
# period (~16 ms, most of QEMU's time). drover-vmm's set-up is "pit"
# (irqchip and PIT); its reaper (vmm/reaper.c) frees the VM after the VMM
# has exited, so that wait is not in its start-to-exit; the floor's
# "create + run" is what the kernel charges on its path.
#
# Environment: DROVER_VMM (default build/static/drover-vmm), BENCH_RUNS,
# BENCH_PVH_MEM (MiB, default 128), QEMU (default qemu-system-x86_64).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
vmm=${DROVER_VMM:-$BENCH_ROOT/build/static/drover-vmm}
payload=$BENCH_OUT/pvh.elf
runstat=$BENCH_OUT/runstat
runs=${BENCH_RUNS:-20}
mem=${BENCH_PVH_MEM:-128}
qemu=${QEMU:-qemu-system-x86_64}

bench_need "$vmm" "make static"
bench_need "$payload" "make bench builds it"
bench_need "$runstat" "make bench builds it"
floor=$BENCH_OUT/kvmfloor
bench_need "$floor" "make bench builds it"
command -v "$qemu" > /dev/null || bench_cannot "$qemu not installed (make deps)"
[ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ] || bench_cannot "/dev/kvm is not usable"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-pvh.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# measure NAME WANT-STATUS CMD...: runs, checks every run, sets
# ${NAME}_wall (median min max, us) and ${NAME}_rss (median min max, KiB).
measure() {
	local name=$1 want=$2 out f st bad=0
	shift 2
	mkdir -p "$tmp/$name"
	out=$("$runstat" -n "$runs" -w 1 -o "$tmp/$name" -- "$@") ||
		bench_cannot "runstat failed for $name"
	while read -r _ i _ _ st; do
		f=$tmp/$name/run-$i.out
		if [ "$st" != "$want" ] || ! grep -q '^bye' "$f"; then
			echo "$name run $i: exit status $st (want $want); output:"
			sed 's/^/  | /' "$f" | tail -n 10
			bad=1
		fi
	done < <(grep '^run ' <<< "$out")
	[ "$bad" = 0 ] || bench_cannot "$name did not run the guest to its reset"
	printf -v "${name}_wall" '%s' "$(sed -n 's/^wall_us //p' <<< "$out")"
	printf -v "${name}_rss" '%s' "$(sed -n 's/^rss_kib //p' <<< "$out")"
}

ms() { awk '{ printf "%.1f ms (min %.1f, max %.1f)", $1 / 1000, $2 / 1000, $3 / 1000 }' <<< "$1"; }
kib() { awk '{ printf "%.0f KiB (min %.0f, max %.0f)", $1, $2, $3 }' <<< "$1"; }

echo "pvh-start: trivial PVH guest (3 lines on COM1, i8042 reset), $mem MiB, 1 vCPU, $runs runs each after 1 warm-up"
echo "  drover-vmm: ${vmm#$BENCH_ROOT/} ($(stat -c %s "$vmm") bytes)"
echo "  qemu: $("$qemu" --version | head -n 1)"
measure drover 3 "$vmm" --kernel "$payload" --mem "${mem}Mi" --cpus 1 --console stdio --rng off \
	--log-level warn
measure qemu 0 "$qemu" \
	-M microvm,x-option-roms=off,pit=off,pic=off,rtc=off,acpi=off,pcie=off,usb=off \
	-accel kvm -cpu host,-arch-capabilities -m "${mem}M" -smp 1 -kernel "$payload" \
	-nodefaults -no-user-config -nographic -serial stdio -device i8042 -no-reboot

dw=${drover_wall%% *} qw=${qemu_wall%% *} dr=${drover_rss%% *} qr=${qemu_rss%% *}
[ "$dw" -gt 0 ] && [ "$qr" -gt 0 ] || bench_cannot "zero figures"
echo "  start to exit, drover-vmm:   $(ms "$drover_wall")"
echo "  start to exit, qemu microvm: $(ms "$qemu_wall")"
echo "  peak RSS, drover-vmm:   $(kib "$drover_rss")"
echo "  peak RSS, qemu microvm: $(kib "$qemu_rss")"
# The host kernel's share: the same life with raw ioctls and no VMM.
for m in bare irqchip pit noreinj; do
	f=$("$floor" -n "$runs" "$m") || bench_cannot "kvmfloor $m failed"
	read -r _ fmed _ <<< "$(head -n 1 <<< "$f")"
	read -r _ fc fr fd <<< "$(sed -n 2p <<< "$f")"
	printf -v "floor_$m" '%s' "$fmed"
	printf '  raw-ioctl floor, %-8s %s (create %s, run %s, destroy %s)\n' "$m:" \
		"$(bench_calc "$fmed / 1000" 1) ms" "$(bench_calc "$fc / 1000" 1)" \
		"$(bench_calc "$fr / 1000" 1)" "$(bench_calc "$fd / 1000" 1) ms"
done
echo "  (bare: no irqchip; irqchip: KVM_CREATE_IRQCHIP; pit: and KVM_CREATE_PIT2, as"
echo "  drover-vmm sets up; noreinj: and KVM_REINJECT_CONTROL off. The SRCU grace period"
echo "  at set-up or destroy is the host kernel's; drover-vmm's reaper frees the VM after"
echo "  the VMM has exited, so its destroy is not in drover-vmm's figure.)"
echo "  best ratio a VMM with an in-kernel irqchip that frees its VM before exiting can" \
	"reach here: qemu / irqchip floor = $(bench_calc "$qw / $floor_irqchip" 1)x"
tr=$(bench_calc "$qw / $dw" 1)
rr=$(bench_calc "$dr / $qr" 3)
echo "  start to exit: qemu / drover-vmm = ${tr}x (target >= 10x)"
echo "  peak RSS: drover-vmm / qemu = $rr (target <= 0.1)"
bench_result "PVH start-to-exit (median)" "$(bench_calc "$dw / 1000" 1) ms" \
	"qemu microvm $(bench_calc "$qw / 1000" 1) ms" "qemu/drover ${tr}x" ">= 10x" "$(bench_yesno "$tr" '>=' 10)"
bench_result "PVH peak RSS (median)" "$dr KiB" "qemu microvm $qr KiB" "$rr of qemu" "<= 0.1" \
	"$(bench_yesno "$rr" '<=' 0.1)"
