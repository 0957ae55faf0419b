#!/usr/bin/env bash
# tests/bench/cirros-node.sh: CirrOS boot to "login:" inside the emulated
# edge node, drover-vmm against QEMU (issue 3), on the node's /dev/kvm.
#
# One node (tests/node/lib.sh) with the host's QEMU added
# (tests/node/qemu-baseline.sh's extra initrd, which also brings its
# NoCloud cidata.iso) and bench-boot (tests/bench/node/bench-boot); in it,
# alternately, BENCH_CIRROS_RUNS times (default 1), QEMU first:
#   qemu-system-x86_64 -accel kvm -M q35 -cpu host -m 256 -smp 1 -nodefaults
#       -nographic -no-reboot -display none -monitor none
#       -kernel vmlinuz -initrd initramfs -append APPEND -serial file:LOG
#       -drive file=cidata.iso,if=virtio,format=raw,readonly=on
#   drover-vmm --kernel vmlinuz --initrd initramfs --cmdline APPEND
#       --mem 256Mi --cpus 1 --console none --console-log LOG --rng off
#       --control SOCK --disk path=cidata.iso,ro
# (the control socket only to print drover-vmm's exit counters at login)
# (QEMU as tests/node/baseline/run-guest starts it, less its NIC.)
# Same kernel and initramfs (/var/lib/drover/guest, i.e. build/guest), same
# memory, vCPUs and command line (APPEND: BENCH_CIRROS_APPEND, default
# "console=ttyS0"), and the same devices for CirrOS: the serial console,
# the same NoCloud cidata ISO on virtio-blk (read-only; local-hostname
# baseline-vm), no NIC on either side (CirrOS's "Starting network" fails
# the same way for both), no virtio-rng (drover-vmm's default one is
# turned off, QEMU has none). With BENCH_CIRROS_DISK=none neither gets the
# cidata disk: CirrOS then finds no datasource and retries the EC2
# metadata URL 20 times (~55 s of guest time) before its login prompt, on
# both sides. The time is node uptime from just before the VMM starts
# until "login:" is in the console log (polled every 0.2 s); the VMM's RSS
# at that moment is shown too (for a Linux guest, mostly guest RAM
# touched: no target). Node clock, TCG-emulated node: absolute times
# depend on the host's load (other QEMUs running) far more than the ratio
# does.
#
# The consoles and VMM outputs of the last run are kept in
# build/bench/cirros-node/ (WHO-console.log, WHO-vmm.log).
#
# Every boot runs in a freshly booted node (see fresh_node).
#
# Environment: tests/node/lib.sh's (NODE_ACCEL, ...), BENCH_CIRROS_RUNS,
# BENCH_CIRROS_APPEND, BENCH_CIRROS_DISK (cidata or none, default cidata),
# BENCH_CIRROS_TIMEOUT (seconds per boot, default 300).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/../node/lib.sh"
runs=${BENCH_CIRROS_RUNS:-1}
append=${BENCH_CIRROS_APPEND:-console=ttyS0}
limit=${BENCH_CIRROS_TIMEOUT:-300}
disk=${BENCH_CIRROS_DISK:-cidata}
case $disk in cidata | none) ;; *) bench_cannot "BENCH_CIRROS_DISK must be cidata or none" ;; esac
name=bench-cirros-$$
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-cirros.XXXXXX")
logs=$BENCH_OUT/cirros-node
rm -rf "$logs"
mkdir -p "$logs"
finish() {
	node_stop_all
	rm -rf "$(node_dir "$name")" "$tmp"
}
trap finish EXIT
node_exit_on_signals

for f in vmlinuz initramfs; do
	bench_need "$DROVER_GUESTDIR/$f" "make guest"
done
bench_need "$DROVER_BINDIR/drover-vmm" "make static"
extra=$("$NODE_ROOT/tests/node/qemu-baseline.sh") || bench_cannot "baseline QEMU initrd (tests/node/qemu-baseline.sh)"
mkdir -p "$tmp/root/usr/bin"
install -m 0755 "$here/node/bench-boot" "$tmp/root/usr/bin/"
node_cpio "$tmp/root" "$tmp/bench.cpio.gz" || bench_cannot "packing bench-boot"
# fresh_node: a newly booted node. Each boot gets one: in a node that has
# already run a guest, the next guest's boot was 2 to 3 times slower
# whichever VMM it was (QEMU 60.8 s first, 121.1 s third; drover-vmm
# 43.5 s first, 104 s second), which favoured whoever went first.
fresh_node() {
	node_stop "$name"
	node_start "$name" --mem 3G --extra-initrd "$extra" --extra-initrd "$tmp/bench.cpio.gz" ||
		bench_cannot "the node did not boot"
}
fresh_node

G=/var/lib/drover/guest
Q=/opt/qemu
qemu_cmd="$Q/lib/ld-linux-x86-64.so.2 --library-path $Q/lib $Q/bin/qemu-system-x86_64 -L $Q/share \
-accel kvm -M q35 -cpu host -m 256 -smp 1 -nodefaults -nographic -no-reboot -display none -monitor none \
-kernel $G/vmlinuz -initrd $G/initramfs -append '$append' -serial file:/tmp/bq/console.log"
vmm_cmd="drover-vmm --kernel $G/vmlinuz --initrd $G/initramfs --cmdline '$append' \
--mem 256Mi --cpus 1 --console none --console-log /tmp/bd/console.log --rng off \
--control /tmp/bd/control.sock"
if [ "$disk" = cidata ]; then
	qemu_cmd+=" -drive file=$Q/cidata.iso,if=virtio,format=raw,readonly=on"
	vmm_cmd+=" --disk path=$Q/cidata.iso,ro"
	devs="NoCloud cidata on virtio-blk, no NIC"
else
	devs="no disk, no NIC"
fi
echo "cirros-node: CirrOS to login: inside the emulated node ($(cat "$(node_dir "$name")/accel")), 256 MiB, 1 vCPU, $devs, append '$append', $runs run(s) each"
echo "  node: $(node_exec "$name" -- 'uname -r; grep -c ^processor /proc/cpuinfo' | tr '\n' ' ')(kernel, CPUs)"
echo "  qemu: $(node_exec "$name" -- "$Q/lib/ld-linux-x86-64.so.2 --library-path $Q/lib $Q/bin/qemu-system-x86_64 --version" | head -n 1)"
echo "  drover-vmm: $(node_exec "$name" -- 'drover-vmm --version' 2>&1 | head -n 1)"

# boot WHO DIR CMD: one boot; appends "SECONDS RSS_KIB" to $tmp/WHO.
boot() {
	local who=$1 dir=$2 cmd=$3 out rc
	[ "${fresh:-0}" = 0 ] || fresh_node
	fresh=1
	out=$(node_exec "$name" --timeout $((limit + 60)) -- "bench-boot $dir $limit $cmd" 2>&1)
	rc=$?
	node_get "$name" "$dir/console.log" "$logs/$who-console.log" 2> /dev/null
	node_get "$name" "$dir/vmm.log" "$logs/$who-vmm.log" 2> /dev/null
	if [ "$rc" != 0 ]; then
		echo "  $who: $out"
		echo "  --- $who: last console lines ---"
		tail -n 15 "$logs/$who-console.log" 2> /dev/null | tr -d '\r' | sed 's/^/  | /'
		echo "  --- $who: VMM output ---"
		tail -n 10 "$logs/$who-vmm.log" 2> /dev/null | sed 's/^/  | /'
		return 1
	fi
	echo "  $who: $(head -n 1 <<< "$out"); $(sed -n 's/^rss \([0-9]*\) hwm \([0-9]*\)/RSS \1 KiB (peak \2 KiB)/p' <<< "$out")"
	grep -q '^status {' <<< "$out" && echo "  $who: control status at login: $(sed -n 's/^status //p' <<< "$out" |
		sed 's/"uptime_ms":[^,]*, //')"
	printf '%s %s\n' "$(sed -n 's/^login after \([0-9.]*\) s.*/\1/p' <<< "$out")" \
		"$(sed -n 's/^rss \([0-9]*\) .*/\1/p' <<< "$out")" >> "$tmp/$who"
}

failed_drover=0
for i in $(seq "$runs"); do
	boot qemu /tmp/bq "$qemu_cmd" || bench_cannot "QEMU did not boot CirrOS to login: in the node"
	boot drover /tmp/bd "$vmm_cmd" || { failed_drover=1; break; }
done
med() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
qt=$(cut -d' ' -f1 "$tmp/qemu" | med)
qr=$(cut -d' ' -f2 "$tmp/qemu" | med)
echo "  qemu console: $(grep -c '' "$logs/qemu-console.log") lines, $(stat -c %s "$logs/qemu-console.log") bytes"
if [ "$failed_drover" = 1 ]; then
	bench_result "CirrOS boot to login: ($disk)" "did not reach login:" "qemu q35 $qt s" "-" "-" "-"
	bench_cannot "drover-vmm did not boot CirrOS to login: in the node (qemu: $qt s)"
fi
dt=$(cut -d' ' -f1 "$tmp/drover" | med)
dr=$(cut -d' ' -f2 "$tmp/drover" | med)
echo "  drover console: $(grep -c '' "$logs/drover-console.log") lines, $(stat -c %s "$logs/drover-console.log") bytes"
# The issue's target: drover-vmm's time over QEMU's, <= 1.0.
ratio=$(bench_calc "$dt / $qt" 2)
echo "  boot to login: drover-vmm $dt s, qemu $qt s (median of $runs): drover-vmm / qemu = $ratio (target <= 1.0)"
echo "  RSS at login: drover-vmm $dr KiB, qemu $qr KiB"
bench_result "CirrOS boot to login: ($disk)" "$dt s" "qemu q35 $qt s" "drover/qemu $ratio" "<= 1.0" \
	"$(bench_yesno "$ratio" '<=' 1.0)"
bench_result "CirrOS VMM RSS at login: (node)" "$dr KiB" "qemu q35 $qr KiB" "$(bench_calc "$dr / $qr" 3) of qemu" "-" "-"
