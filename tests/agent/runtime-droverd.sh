#!/usr/bin/env bash
# tests/agent/runtime-droverd.sh BUILD (e.g. build/asan): the lab's replica
# set run by the whole droverd (API socket, store, VMIRS controller, image
# store, VMI runtime) on the bare host. The lab's containerDisk image name
# is pre-loaded as an ext2 disk booting the PVH test payload
# ("boottimer ctrlaltdel": reports boot, obeys the graceful stop). Checks
# what the lab's users see (2 VMIs Running and Ready, virt-launcher pods,
# the Node), then kill -9 of a VMM (replaced), kill -9 of droverd (the
# VMMs keep running and are adopted), scale down, and deleting the replica
# set: nothing left (no VMM, run dir, disk dir, cgroup, Pod). The VMIs'
# disks live in STATE-DIR/ephemeral/<ns>/<vmi>/ (not on the /run tmpfs).
# Root and /dev/kvm.
set -uo pipefail
build=${1:-build/asan}
bin=$build/bin
payload=$build/tests/payloads/pvh.elf
lab=${DROVER_LAB:-/work/shared/lab}
[ -d "$lab" ] || lab=$(cd "$(dirname "$0")/../.." && pwd)/../shared/lab
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
failed=0
pid=

. "$(dirname "$0")/lib/tap.sh" runtime-droverd

for f in "$bin/droverd" "$bin/droverctl" "$bin/drover-vmm" "$payload"; do
	[ -e "$f" ] || { echo "not ok - runtime-droverd: $f built"; exit 1; }
done
if [ "$(id -u)" != 0 ] || [ ! -w /dev/kvm ] || ! command -v mke2fs > /dev/null; then
	echo "ok - runtime-droverd # SKIP needs root, /dev/kvm and mke2fs"
	exit 0
fi
if [ ! -f "$lab/vmirs_lab05-cirros.yaml" ]; then
	echo "ok - runtime-droverd # SKIP the lab's manifests are not in $lab"
	exit 0
fi

T=$(mktemp -d /tmp/rtd.XXXXXX)
chmod 711 "$T"	# droverd-api (unprivileged) reaches its state and run dirs
# Copies: a rebuild during the test must not swap the binaries under it.
mkdir -p "$T/bin"
cp "$bin/droverd" "$bin/droverctl" "$bin/drover-vmm" "$T/bin/"
bin=$T/bin
cgp=drover-rtd-$$
sock=$T/run/droverd.sock
ns=rtlab
ctl() { "$bin/droverctl" --socket "$sock" "$@"; }
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	# VMMs of this test only: their config lies under $T.
	for p in $(pgrep -f "drover-vmm --config $T/"); do kill -9 "$p"; done
	rmdir /sys/fs/cgroup/*/"$cgp"/* /sys/fs/cgroup/*/"$cgp" 2>/dev/null
	if [ $failed -ne 0 ]; then
		echo "# droverd log (last 30 lines):"
		tail -n 30 "$T/droverd.log" | sed 's/^/# /'
	fi
	rm -rf "$T"
}
trap cleanup EXIT

mkdir -p "$T/disk/boot/grub"
cp "$payload" "$T/disk/boot/vmlinuz"
printf 'default 0\ntimeout 0\ntitle payload\nkernel /boot/vmlinuz boottimer ctrlaltdel\n' \
	> "$T/disk/boot/grub/menu.lst"
mke2fs -q -F -t ext2 -d "$T/disk" "$T/disk.raw" 8M > /dev/null
cat > "$T/droverd.json" <<EOF
{"state-dir": "$T/state", "run-dir": "$T/run", "node-name": "edge1",
 "vmm": "$bin/drover-vmm",
 "cgroup-root": "/sys/fs/cgroup", "cgroup-parent": "$cgp",
 "vmm-user": "65534:65534", "poll-ms": 200,
 "images": {"preloaded": {"quay.io/kubevirt/cirros-container-disk-demo": "$T/disk.raw"}}}
EOF
start() {
	"$bin/droverd" --config "$T/droverd.json" --log-level info \
		>> "$T/droverd.log" 2>&1 &
	pid=$!
	wait_for 10 ctl get ns > /dev/null 2>&1
}
# vmis: the VMI names; count PHASE READY: how many have both.
vmis() { ctl get vmi -n $ns -o json | jq -r '.items[].metadata.name' | sort; }
count() {
	ctl get vmi -n $ns -o json | jq --arg p "$1" --arg r "$2" '[.items[] |
		select(.status.phase == $p and ([.status.conditions[]? |
		select(.type == "Ready")][0].status) == $r)] | length'
}
is_count() { [ "$(count "$1" "$2")" = "$3" ]; }
vmm_pids() { pgrep -f "drover-vmm --config $T/" | sort; }
nvmm() { [ "$(vmm_pids | wc -l)" = "$1" ]; }
pods() { ctl get pods -n $ns -o json | jq -r '.items[].metadata.name' | sort; }

apply_lab() { ctl apply -f "$lab/vmirs_lab05-cirros.yaml" -n $ns > /dev/null; }
vmirs_222() { ctl get vmirs -n $ns | grep -Eq 'lab05-cirros-replicaset +2 +2 +2'; }
pods_match() {
	local p v
	p=$(pods | sed -E 's/^virt-launcher-(.*)-[a-z0-9]{5}$/\1/')
	v=$(vmis)
	[ -n "$v" ] && [ "$p" = "$v" ]
}
node_ready() { ctl get nodes | grep -Eq '^edge1 +Ready'; }
same_vmms() { [ "$(vmm_pids | xargs)" = "$(echo $1 | xargs)" ]; }
one_left() {
	[ "$(ctl get vmi -n $ns -o json | jq '.items | length')" = 1 ] && nvmm 1
}
scale1() {
	ctl scale vmirs lab05-cirros-replicaset --replicas 1 -n $ns > /dev/null
}
delete_rs() { ctl delete vmirs lab05-cirros-replicaset -n $ns > /dev/null; }
gone() { [ -z "$(vmis)" ] && [ -z "$(pods)" ] && nvmm 0; }
run_dir_empty() { [ -z "$(ls -A "$T/run/vmi" 2>/dev/null)" ]; }
# The disks live in the state dir (not on the /run tmpfs), one dir per VMI.
eph_dirs() { ls -d "$T/state/ephemeral/$ns"/*/ 2>/dev/null | wc -l; }
eph_has_disks() {
	local v
	for v in $(vmis); do
		[ -f "$T/state/ephemeral/$ns/$v/disk0.qcow2" ] && [ ! -e "$T/run/vmi/$ns/$v/disk0.qcow2" ] || return 1
	done
	[ "$(eph_dirs)" = 2 ]
}
eph_empty() { [ -z "$(ls -A "$T/state/ephemeral" 2>/dev/null)" ]; }
no_cgroups() { ! ls -d /sys/fs/cgroup/*/"$cgp"/*/ 2>/dev/null | grep -q .; }

check "droverd starts with the runtime" start
check "the lab's VMIRS is applied" apply_lab
check "2 VMIs Running and Ready" wait_for 30 is_count Running True 2
check "2 drover-vmm processes" nvmm 2
check "kubectl get vmirs: 2 2 2" wait_for 10 vmirs_222
check "one virt-launcher-<vmi>-<5 chars> pod per VMI" pods_match
check "the Node edge1 is Ready" node_ready
check "the overlays in STATE/ephemeral/<ns>/<vmi>/, none in /run" eph_has_disks

victim=$(vmm_pids | head -1)
before=$(vmis)
kill -9 "$victim"
replaced() { [ "$(count Running True)" = 2 ] && [ "$(vmis)" != "$before" ] &&
	! kill -0 "$victim" 2>/dev/null; }
check "kill -9 of a VMM: its VMI fails and the VMIRS replaces it" wait_for 30 replaced
eph_two() { [ "$(eph_dirs)" = 2 ]; }
check "the failed VMI's disk dir is gone (2 left)" wait_for 10 eph_two

wait_for 10 nvmm 2
vmms=$(vmm_pids | xargs)
kill -9 "$pid"
wait "$pid" 2>/dev/null
pid=
check "kill -9 of droverd: the VMMs keep running" same_vmms "$vmms"
check "droverd restarts" start
check "adopted: 2 Running and Ready" wait_for 10 is_count Running True 2
check "adopted: the same VMM processes" same_vmms "$vmms"
check "adopted: their disk dirs kept" eph_has_disks

check "scale to 1" scale1
check "scaled down: 1 VMI, 1 VMM (graceful stop)" wait_for 30 one_left
check "delete the VMIRS" delete_rs
check "deleted: no VMI, no Pod, no VMM" wait_for 30 gone
check "deleted: the run dir holds no VMI" run_dir_empty
check "deleted: the ephemeral dir holds no VMI disk" eph_empty
check "deleted: no VMI cgroup left" no_cgroups
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
check "droverd stops cleanly (status 0, no leaks)" test "$rc" = 0
exit $failed
