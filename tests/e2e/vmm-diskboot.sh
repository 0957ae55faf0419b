#!/usr/bin/env bash
# tests/e2e/vmm-diskboot.sh: CirrOS's own disk (build/guest/disk.qcow2,
# see boot/guest) boots under drover-vmm inside the emulated node from the
# disk alone (no --kernel: vmm/bootdisk*.c finds vmlinuz, initrd.img and
# menu.lst on its ext3 partition), through a qcow2 copy-on-write overlay
# whose backing file is the node's read-only disk.qcow2 (issue 4):
#   --disk path=$D/overlay.qcow2,format=qcow2,backing=$G/disk.qcow2,backing-format=qcow2
# plus a NoCloud seed (boot/guest/mkcidata.sh) on a second, read-only disk,
# a NIC on the node's tap, --user 65534:65534 and seccomp (the node side
# and the shared steps are tests/e2e/lib/vmm-node.sh's, as for
# vmm-cirros.sh). The overlay is made on the host by qemu-img create (it
# records the backing name "disk.qcow2", which drover-vmm never opens:
# the backing file is pinned by --disk) and shipped into the node.
#
# Boot 1, through the console socket: log in as cirros/gocubsgo, check the
# root file system is /dev/vda1, write /e2e-mark ("DROVER-diskboot-42")
# and sync; then "stop" on the control socket (CirrOS shuts down, status
# 0). Checks: `=== datasource: nocloud local ===` and the user-data on the
# console, the VMM's boot disk line, uid/gid 65534 and seccomp, the mark
# is in the overlay and the base's md5 is unchanged, `qemu-img check` of
# the overlay (copied out to the host, next to a link to the base) is
# clean: no errors, no leaks.
# Boot 2, the same overlay (copied into a fresh node): the mark is still
# there; the guest writes and syncs 1 MiB files in a loop, and drover-vmm
# is killed with SIGKILL in the middle; `qemu-img check` must find no
# corruption (exit 0, or 3 for leaked clusters only), and the base is
# still unchanged.
#
# Environment: tests/node/lib.sh's (NODE_SMP defaults to 1, as in
# vmm-cirros.sh); VMM_DISKBOOT_CPUS (vCPUs, default 1);
# VMM_DISKBOOT_TIMEOUT (seconds to login:, default 600).
set -uo pipefail
export NODE_SMP=${NODE_SMP:-1}
. "$(dirname "$0")/lib/vmm-node.sh"
vmm_e2e_init "e2e-vmm-diskboot-$$" /tmp/vd
limit=${VMM_DISKBOOT_TIMEOUT:-600}
cpus=${VMM_DISKBOOT_CPUS:-1}
G=/var/lib/drover/guest
BASE=$G/disk.qcow2
OV=$D/overlay.qcow2
MARK=DROVER-diskboot-42

vmm_e2e_need "$DROVER_GUESTDIR/disk.qcow2" "$DROVER_BINDIR/drover-vmm"
command -v qemu-img > /dev/null || { not_ok "qemu-img is missing (qemu-utils)"; exit 1; }
vmm_e2e_seed vmm-disk "vmm-diskboot user-data ran"
ln -s "$(readlink -f "$DROVER_GUESTDIR/disk.qcow2")" "$tmp/disk.qcow2"
if ! qemu-img create -q -f qcow2 -b disk.qcow2 -F qcow2 "$tmp/overlay.qcow2"; then
	not_ok "qemu-img create: the overlay"
	exit 1
fi
cp "$tmp/overlay.qcow2" "$tmp/root/opt/e2e/overlay.qcow2"
vmm_e2e_pack
base_md5=$(md5sum < "$DROVER_GUESTDIR/disk.qcow2" | cut -c1-32)
vmm_args="--mem 256Mi --cpus $cpus --disk path=$OV,format=qcow2,backing=$BASE,backing-format=qcow2
--disk path=/opt/e2e/cidata.iso,ro $(vmm_e2e_vmm_args)"

# node_base_md5: the node's disk.qcow2 must be the host's, unchanged.
node_base_md5() {
	local m
	m=$(node_exec "$name" -- "md5sum $BASE" 2>&1 | cut -c1-32)
	check "the base $BASE is unchanged $1 (md5 $m, built $base_md5)" [ "$m" = "$base_md5" ]
}
# overlay_check WHAT OKCODES: qemu-img check on the host of the node's
# overlay; its exit status must be one of OKCODES.
overlay_check() {
	local out rc
	rm -f "$tmp/overlay.qcow2"
	node_get "$name" "$OV" "$tmp/overlay.qcow2" 2> /dev/null
	out=$(qemu-img check "$tmp/overlay.qcow2" 2>&1)
	rc=$?
	check "qemu-img check of the overlay $1: exit $rc ($(tr '\n' ' ' <<< "$out" | cut -c1-200))" \
		bash -c '[[ " $2 " == *" $1 "* ]] && ! grep -qiE "corrupt|^ERROR" <<< "$3"' _ "$rc" "$2" "$out"
}

# ---- boot 1: from the disk alone, write, graceful stop ----------------------
steps=(
	"timeout:$limit" "expect:vmm-disk login:" "timeout:120"
	'sendslow:cirros\n' 'expect:assword:' 'sendslow:gocubsgo\n' 'expect:$ '
	'sendslow:grep -c "^/dev/vda1 / " /proc/mounts | sed s/^/ROOTVDA:/\n' 'expect:\nROOTVDA:' 'expect:$ '
	'sendslow:echo DROVER-diskboot-$((6*7)) | sudo tee /e2e-mark > /dev/null; sync; echo WROTE-$((6*7))\n' 'expect:WROTE-42' 'expect:$ '
	'sendslow:sed s/^/MARK:/ /e2e-mark\n' 'expect:\nMARK:' 'expect:$ '
	'drain:1000'
)
VMM_E2E_PREP="rm -f $OV && cp /opt/e2e/overlay.qcow2 $OV"
# shellcheck disable=SC2086
vmm_e2e_boot $vmm_args
ok "drover-vmm boots CirrOS from the overlay alone to 'vmm-disk login:' (hostname from the NoCloud seed; attempt $try)"
echo "# boot 1 (boot to login, checks) took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s of node time"
# Where the set-up time goes: the VMM's start (vmm-guest's pid file), the
# boot disk read (its log line comes after the reader child is done), the
# devices.
node_exec "$name" -- "echo started \$(stat -c %Y $D/pid); head -n 3 $D/vmm.log" 2>&1 |
	sed -E 's/^([0-9.]+) drover-vmm [a-z]+: ([a-z_]+): (.{0,60}).*/\1 \2: \3/; s/^/# vmm: /'
vmmlog=$(node_exec "$name" -- "grep 'boot disk' $D/vmm.log" 2>&1)
check "the VMM found the kernel on the disk ($(cut -c1-160 <<< "$vmmlog"))" \
	bash -c 'grep -q "boot disk $2: partition 1, /boot/grub/menu.lst: kernel /vmlinuz" <<< "$1"' _ "$vmmlog" "$OV"
check "CirrOS found the NoCloud seed (=== datasource: nocloud local ===)" \
	grep -q '=== datasource: nocloud local ===' "$tmp/console.log"
check "the guest ran the NoCloud user-data" grep -q 'vmm-diskboot user-data ran' "$tmp/console.log"
check "the guest's root file system is /dev/vda1 ('$(vmm_e2e_val ROOTVDA)')" [ "$(vmm_e2e_val ROOTVDA)" = 1 ]
check "the guest wrote /e2e-mark ('$(vmm_e2e_val MARK)')" [ "$(vmm_e2e_val MARK)" = "$MARK" ]
vmm_e2e_check_sandbox
vmm_e2e_stop
node_base_md5 "after boot 1"
overlay_check "after the guest's shutdown (clean: no errors, no leaks)" 0
check "the mark is in the overlay" grep -aq "$MARK" "$tmp/overlay.qcow2"

# ---- boot 2: the same overlay, killed with SIGKILL mid-write ---------------
steps=(
	"timeout:$limit" "expect:vmm-disk login:" "timeout:120"
	'sendslow:cirros\n' 'expect:assword:' 'sendslow:gocubsgo\n' 'expect:$ '
	'sendslow:sed s/^/MARK2:/ /e2e-mark\n' 'expect:\nMARK2:' 'expect:$ '
	'sendslow:(i=0; while :; do i=$((i+1)); dd if=/dev/urandom of=w$((i%8)) bs=64k count=16 2>/dev/null; sync; done) & echo WRITING-$((6*7))\n'
	'expect:WRITING-42' 'drain:3000'
)
# In a fresh node, with the overlay as boot 1 left it: a node that has
# already run a guest stalls the next VMM's set-up in its kernel for a
# minute or more under TCG (soft lockups), past vmmcon's 60 s to connect.
VMM_E2E_PREP=
node_stop "$name"
if ! vmm_e2e_node_up || ! node_put "$name" "$tmp/overlay.qcow2" "$OV"; then
	not_ok "a fresh node for boot 2, with the overlay"
	exit 1
fi
# shellcheck disable=SC2086
if ! vmm_e2e_attempt $vmm_args; then
	not_ok "boot 2 (the same overlay) to a login and a write loop"
	exit 1
fi
ok "boot 2 from the same overlay reaches login"
check "the mark survived in the overlay ('$(vmm_e2e_val MARK2)')" [ "$(vmm_e2e_val MARK2)" = "$MARK" ]
sleep 3
killed=$(node_exec "$name" -- "p=$VMM_E2E_PID"' && kill -9 $p && echo $p' 2>&1)
st=$(node_exec "$name" --timeout 60 -- "vmm-guest wait $D 30" 2>&1)
check "drover-vmm killed with SIGKILL while the guest writes (pid $killed, status $st)" [ "$st" = 137 ]
node_base_md5 "after the kill"
overlay_check "after kill -9 mid-write (no corruption; leaked clusters allowed)" "0 3"
exit $failed
