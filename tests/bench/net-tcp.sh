#!/usr/bin/env bash
# tests/bench/net-tcp.sh: guest->node TCP throughput through the pod
# network's NAT inside the emulated node (issue 7), drover-vmm against QEMU
# with a tap, the same CirrOS guest.
#
# For each VMM, QEMU first, in a freshly booted node (tests/node/lib.sh,
# with the host's QEMU: tests/node/qemu-baseline.sh), bench-net
# (tests/bench/node/bench-net) makes the pod network as droverd does
# (net_tool: netns, veth into a bridge 10.244.0.1/24, eth0 with a pod IP,
# k6t-eth0 10.0.2.1/24, tap0, KubeVirt's nat rules, the node's masquerade),
# gives the guest 10.0.2.2 by DHCP (busybox udhcpd on k6t-eth0), and
# starts the VMM inside the netns on tap0:
#   drover-vmm --kernel vmlinuz --initrd initramfs --cmdline console=ttyS0
#       --mem 256Mi --cpus 1 --console none --console-log LOG --rng off
#       --disk path=cidata.iso,ro --net tap=tap0,mac=52:54:00:12:34:56
#   qemu-system-x86_64 -accel kvm -M q35 -cpu host -m 256 -smp 1 ...
#       -drive file=cidata.iso,if=virtio,format=raw,readonly=on
#       -netdev tap,id=n0,ifname=tap0,script=no,downscript=no,vnet_hdr=on
#       -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56,romfile=
# (userspace virtio-net on both sides: no vhost). The guest's NoCloud
# user-data waits for the network, then sends BENCH_NET_MB MiB (default
# 32) of zeros with busybox nc to tcpsink on 10.244.0.1:5001 in the node,
# BENCH_NET_RUNS times (default 3): guest -> tap0 -> k6t-eth0 -> SNAT to the
# pod IP -> veth -> bridge -> the node. tcpsink times each transfer from its
# first byte to its last; the median is the figure. Target: drover-vmm /
# QEMU >= 1.0. Node clock, TCG-emulated node: absolute rates depend on the
# host's load; the ratio less so.
# Logs of the last run: build/bench/net-tcp/ (WHO-console.log, WHO-vmm.log).
# Environment: tests/node/lib.sh's, BENCH_NET_MB, BENCH_NET_RUNS,
# BENCH_NET_TIMEOUT (s per VMM, default 600).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/../node/lib.sh"
mb=${BENCH_NET_MB:-32}
runs=${BENCH_NET_RUNS:-3}
limit=${BENCH_NET_TIMEOUT:-600}
name=bench-net-$$
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-net.XXXXXX")
logs=$BENCH_OUT/net-tcp
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
bench_need "$BENCH_OUT/tcpsink" "make bench-bins"
bench_need "$BENCH_OUT/net_tool" "make bench-bins"
command -v genisoimage > /dev/null || bench_cannot "genisoimage is not installed (make deps)"
extra=$("$NODE_ROOT/tests/node/qemu-baseline.sh") || bench_cannot "baseline QEMU initrd (tests/node/qemu-baseline.sh)"

# The guest's seed: wait for the node, send, say so on the console.
mkdir -p "$tmp/cidata" "$tmp/root/usr/bin" "$tmp/root/opt/netbench"
printf '{"instance-id": "iid-netbench", "local-hostname": "netbench"}\n' > "$tmp/cidata/meta-data"
cat > "$tmp/cidata/user-data" << EOF
#!/bin/sh
n=0
while [ \$n -lt 120 ] && ! ping -c 1 -W 1 10.244.0.1 > /dev/null 2>&1; do n=\$((n + 1)); sleep 1; done
echo "DROVER-NETBENCH-START after \$n s"
for i in \$(seq $runs); do
	dd if=/dev/zero bs=65536 count=$((mb * 16)) 2> /dev/null | nc 10.244.0.1 5001
	sleep 1
done
echo DROVER-NETBENCH-SENT
EOF
genisoimage -quiet -output "$tmp/root/opt/netbench/cidata.iso" -volid cidata -joliet -rock \
	"$tmp/cidata/user-data" "$tmp/cidata/meta-data" || bench_cannot "genisoimage"
install -m 0755 "$here/node/bench-net" "$BENCH_OUT/tcpsink" "$BENCH_OUT/net_tool" "$tmp/root/usr/bin/"
node_cpio "$tmp/root" "$tmp/bench.cpio.gz" || bench_cannot "packing bench-net"

fresh_node() {
	node_stop "$name"
	node_start "$name" --mem 3G --extra-initrd "$extra" --extra-initrd "$tmp/bench.cpio.gz" ||
		bench_cannot "the node did not boot"
}

G=/var/lib/drover/guest
Q=/opt/qemu
C=/opt/netbench/cidata.iso
MAC=52:54:00:12:34:56
qemu_cmd="$Q/lib/ld-linux-x86-64.so.2 --library-path $Q/lib $Q/bin/qemu-system-x86_64 -L $Q/share \
-accel kvm -M q35 -cpu host -m 256 -smp 1 -nodefaults -nographic -no-reboot -display none -monitor none \
-kernel $G/vmlinuz -initrd $G/initramfs -append console=ttyS0 -serial file:/tmp/bnq/console.log \
-drive file=$C,if=virtio,format=raw,readonly=on \
-netdev tap,id=n0,ifname=tap0,script=no,downscript=no,vnet_hdr=on -device virtio-net-pci,netdev=n0,mac=$MAC,romfile="
vmm_cmd="drover-vmm --kernel $G/vmlinuz --initrd $G/initramfs --cmdline console=ttyS0 \
--mem 256Mi --cpus 1 --console none --console-log /tmp/bnd/console.log --rng off \
--disk path=$C,ro --net tap=tap0,mac=$MAC"

# run WHO DIR CMD: one VMM in a fresh node; its rates (MB/s) in $tmp/WHO.
run() {
	local who=$1 dir=$2 cmd=$3 out rc
	fresh_node
	out=$(node_exec "$name" --timeout $((limit + 60)) -- \
		"bench-net $dir $who $limit $((mb << 20)) $runs $cmd" 2>&1)
	rc=$?
	node_get "$name" "$dir/console.log" "$logs/$who-console.log" 2> /dev/null
	node_get "$name" "$dir/vmm.log" "$logs/$who-vmm.log" 2> /dev/null
	sed 's/^/  '"$who"': /' <<< "$out"
	if [ "$rc" != 0 ]; then
		echo "  --- $who: last console lines ---"
		tail -n 15 "$logs/$who-console.log" 2> /dev/null | tr -d '\r' | sed 's/^/  | /'
		echo "  --- $who: VMM output ---"
		tail -n 10 "$logs/$who-vmm.log" 2> /dev/null | sed 's/^/  | /'
		return 1
	fi
	sed -n 's/^bytes [0-9]* seconds [0-9.]* MBps \([0-9.]*\)$/\1/p' <<< "$out" > "$tmp/$who"
	[ -s "$tmp/$who" ]
}
med() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "net-tcp: guest->node TCP through the pod network's NAT, CirrOS, 256 MiB, 1 vCPU, $runs x $mb MiB per VMM"
run qemu /tmp/bnq "$qemu_cmd" || bench_cannot "QEMU's guest did not send its data to the node"
if ! run drover /tmp/bnd "$vmm_cmd"; then
	bench_result "guest->node TCP via NAT (node)" "did not finish" "qemu tap $(med < "$tmp/qemu") MB/s" "-" ">= 1.0" "no"
	bench_cannot "drover-vmm's guest did not send its data to the node"
fi
q=$(med < "$tmp/qemu") d=$(med < "$tmp/drover")
ratio=$(bench_calc "$d / $q" 2)
echo "  median: drover-vmm $d MB/s, qemu $q MB/s: drover-vmm / qemu = $ratio"
bench_result "guest->node TCP via NAT (node)" "$d MB/s" "qemu tap $q MB/s" "${ratio}x" ">= 1.0" \
	"$(bench_yesno "$ratio" '>=' 1.0)"
