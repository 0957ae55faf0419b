#!/usr/bin/env bash
# tests/agent/droverd-lifecycle.sh BUILD (e.g. build/asan): the whole
# droverd on the bare host (local API, durable store, VMIRS controller,
# VMI runtime, cgroups v1 or v2 under a parent of its own, image store),
# drover-vmm running the PVH test payload idle ("boottimer spin": reports
# its boot, then halts) from a pre-loaded containerDisk (issue 5):
#   - 20 replicas come up Running and Ready; scale to 5 and back to 20;
#     every count (VMIs, Pods, VMMs, run dirs, disk dirs, cgroups) follows;
#   - the cgroup files hold kubelet's values (cpu 100m/300m: shares 102
#     or weight 4, quota 30000/100000; memory limit + VMM overhead; pids);
#   - kill -9 of 3 VMMs: their VMIs Failed, replaced by new names, the
#     failed ones deleted with everything they had;
#   - paused: a killed VMM's VMI stays Failed, no scaling, condition
#     ReplicaPaused and events; resumed: replaced and cleaned up;
#   - kill -9 of droverd: the VMMs never stop, the restarted droverd
#     adopts all 20 (same processes) and carries on (a kill is replaced,
#     scaling works);
#   - unschedulable: the VMI that does not fit stays Pending with
#     PodScheduled=False reason Unschedulable and a FailedScheduling event,
#     and starts as soon as scaling down makes room;
#   - bad input never takes droverd down and is surfaced with a clear
#     message: a bad manifest (refused, not stored), a disk whose GRUB
#     menu names a missing kernel (the VMM exits at once: Failed, its
#     words in the condition and a Warning event), a full disk for the
#     VMIs' overlays (Failed, "No space left on device"), a full disk for
#     the store (creates refused with ENOSPC, deletes still work);
#   - deleting a VMI, a VMIRS and a whole namespace leaves nothing
#     behind: no process, cgroup, socket, run dir, overlay, state file or
#     Pod (counted), and droverd exits 0 on SIGTERM (sanitizers clean).
# Root, /dev/kvm and mke2fs, else SKIP. About 60-90 s.
set -uo pipefail
build=${1:-build/asan}
bin=$build/bin
payload=$build/tests/payloads/pvh.elf
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
failed=0
pid=
T=

. "$(dirname "$0")/lib/tap.sh" lifecycle
q() { "$@" > /dev/null; }

for f in "$bin/droverd" "$bin/droverctl" "$bin/drover-vmm" "$payload"; do
	[ -e "$f" ] || { echo "not ok - lifecycle: $f built"; exit 1; }
done
if [ "$(id -u)" != 0 ] || [ ! -w /dev/kvm ] || ! command -v mke2fs > /dev/null ||
	! command -v jq > /dev/null; then
	echo "ok - lifecycle # SKIP needs root, /dev/kvm, mke2fs and jq"
	exit 0
fi

T=$(mktemp -d /tmp/lifecycle.XXXXXX)
chmod 711 "$T"	# droverd-api (unprivileged) reaches its state and run dirs
mkdir -p "$T/bin"
cp "$bin/droverd" "$bin/droverctl" "$bin/drover-vmm" "$T/bin/"
bin=$T/bin
cgp=drover-life-$$
sock=$T/run/droverd.sock
ns=life
ctl() { "$bin/droverctl" --socket "$sock" "$@"; }
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2> /dev/null
	for p in $(pgrep -f "drover-vmm --config $T/"); do kill -9 "$p"; done
	sleep 0.2
	for m in "$T/small" "$T/eph"; do mountpoint -q "$m" && umount -l "$m"; done
	rmdir /sys/fs/cgroup/*/"$cgp"/* /sys/fs/cgroup/*/"$cgp" \
		/sys/fs/cgroup/"$cgp"/* /sys/fs/cgroup/"$cgp" 2> /dev/null
	if [ $failed -ne 0 ]; then
		echo "# droverd log (last 40 lines):"
		tail -n 40 "$T"/droverd*.log | sed 's/^/# /'
	fi
	rm -rf "$T"
}
trap cleanup EXIT

# disk NAME KERNEL: an ext2 containerDisk whose GRUB menu boots KERNEL.
disk() {
	mkdir -p "$T/$1/boot/grub"
	cp "$payload" "$T/$1/boot/vmlinuz"
	printf 'default 0\ntimeout 0\ntitle payload\nkernel %s boottimer spin\n' "$2" \
		> "$T/$1/boot/grub/menu.lst"
	mke2fs -q -F -t ext2 -d "$T/$1" "$T/$1.raw" 8M > /dev/null
}
disk idle /boot/vmlinuz
disk nokernel /boot/missing-kernel
images='{"preloaded": {"test.local/idle:1": "'$T/idle.raw'", "test.local/nokernel:1": "'$T/nokernel.raw'"}}'
# 4 CPUs and 2Gi for the VMIs: 20 of 32Mi (+18Mi overhead) and one of 600Mi
# fit, a second one of 600Mi does not.
cat > "$T/droverd.json" << EOF
{"state-dir": "$T/state", "run-dir": "$T/run", "node-name": "edge1",
 "vmm": "$bin/drover-vmm", "cgroup-root": "/sys/fs/cgroup",
 "cgroup-parent": "$cgp", "poll-ms": 200,
 "capacity": {"cpu": "4", "memory": "2Gi"}, "images": $images}
EOF
start() { # start [CONFIG]
	"$bin/droverd" --config "${1:-$T/droverd.json}" --log-level info \
		>> "$T/droverd.log" 2>&1 &
	pid=$!
	wait_for 10 ctl get ns > /dev/null 2>&1
}
stop() {
	kill -TERM "$pid"
	wait "$pid"
	local rc=$?
	pid=
	return $rc
}

rs() { # rs NAME REPLICAS MEMORY [LIMITS-YAML] [PAUSED]
	cat << EOF
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstanceReplicaSet
metadata:
  name: $1
spec:
  replicas: $2
  paused: ${5:-false}
  selector:
    matchLabels:
      app: $1
  template:
    metadata:
      labels:
        app: $1
    spec:
      terminationGracePeriodSeconds: 0
      domain:
        cpu:
          cores: 1
        devices:
          autoattachPodInterface: false
          disks:
          - name: containerdisk
            disk:
              bus: virtio
        resources:
          requests:
            cpu: 100m
            memory: $3
          limits:
            cpu: 300m${4:-}
      volumes:
      - name: containerdisk
        containerDisk:
          image: test.local/idle:1
EOF
}
vmi() { # vmi NAME IMAGE
	cat << EOF
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata:
  name: $1
spec:
  terminationGracePeriodSeconds: 0
  domain:
    devices:
      autoattachPodInterface: false
      disks:
      - name: containerdisk
        disk:
          bus: virtio
    resources:
      requests:
        memory: 32Mi
  volumes:
  - name: containerdisk
    containerDisk:
      image: $2
EOF
}
apply_rs() { rs "$@" | ctl apply -f - -n $ns > /dev/null; }

vmis_json() { ctl get vmi -n $ns -o json; }
# count SELECTOR-APP PHASE READY: VMIs of that replica set with both.
count() {
	vmis_json | jq --arg a "$1" --arg p "$2" --arg r "$3" '[.items[] |
		select(.metadata.labels.app == $a and .status.phase == $p and
		([.status.conditions[]? | select(.type == "Ready")][0].status) == $r)] | length'
}
is_count() { [ "$(count "$1" "$2" "$3")" = "$4" ]; }
names() { vmis_json | jq -r --arg a "$1" '.items[] | select(.metadata.labels.app == $a) | .metadata.name' | sort; }
nnames() { names "$1" | wc -l; }
nis() { [ "$(nnames "$1")" = "$2" ]; }
gone() { ! ctl get "$1" "$2" -n $ns > /dev/null 2>&1; }
phase() { ctl get vmi "$1" -n $ns -o json 2> /dev/null | jq -r .status.phase; }
is_phase() { [ "$(phase "$1")" = "$2" ]; }
vmm_pids() { pgrep -f "drover-vmm --config $T/run/" | sort; }
nvmm() { vmm_pids | wc -l; }
vmm_of() { pgrep -f "drover-vmm --config $T/run/vmi/$ns/$1/"; }
npods() { ctl get pods -n $ns -o json | jq '.items | length'; }
nrundirs() { ls -d "$T"/run/vmi/*/*/ 2> /dev/null | wc -l; }
nsocks() { find "$T/run/vmi" -type s 2> /dev/null | wc -l; }
nstate() { find "$T/run/vmi" -name state.json 2> /dev/null | wc -l; }
EPH=$T/state/ephemeral
nephdirs() { ls -d "$EPH"/*/*/ 2> /dev/null | wc -l; }
noverlays() { find "$EPH" -name '*.qcow2' 2> /dev/null | wc -l; }
# Cgroups under the parent, in every hierarchy that has it (v1: each
# controller's; v2: one), as "N N N N".
ncgroups() {
	local d out=
	for d in /sys/fs/cgroup/*/"$cgp" /sys/fs/cgroup/"$cgp"; do
		[ -d "$d" ] || continue
		out="$out $(find "$d" -mindepth 1 -maxdepth 1 -type d | wc -l)"
	done
	echo $out
}
cgroups_are() { # cgroups_are N: N in every hierarchy
	local c
	for c in $(ncgroups); do [ "$c" = "$1" ] || return 1; done
	[ -n "$(ncgroups)" ]
}
# everything N: N VMIs' worth of VMMs, Pods, run dirs (2 sockets and a
# state file each), disk dirs with an overlay, cgroups.
everything() {
	[ "$(nvmm)" = "$1" ] && [ "$(npods)" = "$1" ] && [ "$(nrundirs)" = "$1" ] &&
	[ "$(nsocks)" = $(( 2 * $1 )) ] && [ "$(nstate)" = "$1" ] &&
	[ "$(nephdirs)" = "$1" ] && [ "$(noverlays)" = "$1" ] && cgroups_are "$1"
}
show() { echo "# VMMs $(nvmm), Pods $(npods), run dirs $(nrundirs), sockets $(nsocks), state files $(nstate), disk dirs $(nephdirs), overlays $(noverlays), cgroups $(ncgroups)"; }
checkn() { # checkn NAME N: everything N, or show the counts
	if wait_for 20 everything "$2"; then ok "$1"; else nok "$1"; show; fi
}
events_of() { # events_of NAME REASON: how many Events about NAME with REASON
	ctl get events -n $ns -o json | jq --arg n "$1" --arg r "$2" \
		'[.items[] | select(.involvedObject.name == $n and .reason == $r)] | length'
}
has_event() { [ "$(events_of "$1" "$2")" -ge 1 ]; }

# ---- 20 replicas, scale to 5 and back ------------------------------------
check "droverd starts" start
check "a VMIRS of 20 is applied" apply_rs web 20 32Mi $'\n            memory: 48Mi'
check "20 VMIs Running and Ready" wait_for 60 is_count web Running True 20
checkn "20 of everything: VMMs, Pods, run dirs, sockets, state files, overlays, cgroups" 20
vmirs_20() { ctl get vmirs -n $ns | grep -Eq '^web +20 +20 +20 '; }
check "kubectl get vmirs: 20 20 20" wait_for 10 vmirs_20

# ---- cgroup files -----------------------------------------------------------
one=$(names web | head -1)
cg=$(ctl get pods -n $ns -o json | jq -r --arg v "$one" '.items[] |
	select(.metadata.labels["vm.kubevirt.io/name"] == $v) | .metadata.annotations["drover.dev/cgroup"]')
pid1=$(vmm_of "$one")
mi=$((1 << 20))
# kubelet: shares = 100 * 1024 / 1000; quota = 300 * 100000 / 1000; the
# VMM's overhead (cgroup.c): 16 MiB + 1 MiB per vCPU + guest RAM / 256,
# rounded up to 1 MiB; pids: 64 + vCPUs.
want_shares=$(( 100 * 1024 / 1000 ))
want_weight=$(( 1 + (want_shares - 2) * 9999 / 262142 ))
overhead=$(( (16 * mi + mi + 32 * mi / 256 + mi - 1) / mi * mi ))
want_mem=$(( 48 * mi + overhead ))
cgfile() { cat "/sys/fs/cgroup/$1/$cgp/$cg/$2" 2> /dev/null || cat "/sys/fs/cgroup/$cgp/$cg/$2"; }
in_cg() { grep -qx "$pid1" "$1/$cgp/$cg/cgroup.procs"; }
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	check "cgroup v2: cpu.max 30000 100000, cpu.weight $want_weight" \
		test "$(cgfile . cpu.max) $(cgfile . cpu.weight)" = "30000 100000 $want_weight"
	check "cgroup v2: memory.max $want_mem (48Mi + overhead), pids.max 65" \
		test "$(cgfile . memory.max) $(cgfile . pids.max)" = "$want_mem 65"
	check "cgroup v2: the VMM is in it" in_cg /sys/fs/cgroup
else
	check "cgroup v1: cpu.shares $want_shares, cfs_quota_us 30000, cfs_period_us 100000" \
		test "$(cgfile cpu cpu.shares) $(cgfile cpu cpu.cfs_quota_us) $(cgfile cpu cpu.cfs_period_us)" = \
		"$want_shares 30000 100000"
	check "cgroup v1: memory.limit_in_bytes $want_mem (48Mi + overhead)" \
		test "$(cgfile memory memory.limit_in_bytes)" = "$want_mem"
	check "cgroup v1: pids.max 65" test "$(cgfile pids pids.max)" = 65
	vmm_in_all() { for h in cpu cpuacct memory pids; do in_cg "/sys/fs/cgroup/$h" || return 1; done; }
	check "cgroup v1: the VMM is in its cgroup in cpu, cpuacct, memory, pids" vmm_in_all
fi

check "scale to 5" q ctl scale vmirs web --replicas 5 -n $ns
check "5 VMIs left" wait_for 30 nis web 5
checkn "scaled down: 5 of everything left (15 cleaned up)" 5
check "scale back to 20" q ctl scale vmirs web --replicas 20 -n $ns
check "20 Running and Ready again" wait_for 60 is_count web Running True 20
checkn "20 of everything again" 20

# ---- kill -9 of VMMs --------------------------------------------------------
before=$(names web)
victims=$(names web | head -3)
for v in $victims; do kill -9 "$(vmm_of "$v")"; done
replaced() {
	local now
	now=$(names web)
	is_count web Running True 20 && [ "$(comm -12 <(echo "$victims") <(echo "$now") | wc -l)" = 0 ] &&
		[ "$(comm -13 <(echo "$before") <(echo "$now") | wc -l)" = 3 ]
}
check "kill -9 of 3 VMMs: replaced by 3 VMIs with new names, the failed ones deleted" wait_for 30 replaced
checkn "20 of everything after the replacements" 20
v1=$(echo "$victims" | head -1)
three_deletes() { [ "$(events_of web SuccessfulDelete)" -ge 3 ] && [ "$(events_of web SuccessfulCreate)" -ge 23 ]; }
check "the controller's events: SuccessfulDelete of the finished, SuccessfulCreate of the new" three_deletes

# ---- paused -------------------------------------------------------------------
check "pause the VMIRS" apply_rs web 20 32Mi $'\n            memory: 48Mi' true
paused_cond() {
	ctl get vmirs web -n $ns -o json | jq -e '[.status.conditions[]? | select(.type ==
		"ReplicaPaused" and .status == "True" and .reason == "Paused")] | length == 1' > /dev/null
}
check "condition ReplicaPaused True (Paused)" wait_for 10 paused_cond
check "event SuccessfulPaused" wait_for 10 has_event web SuccessfulPaused
pv=$(names web | head -1)
pnames=$(names web)
kill -9 "$(vmm_of "$pv")"
check "paused: the killed VMM's VMI is Failed" wait_for 20 is_phase "$pv" Failed
sleep 2
check "paused: it is neither deleted nor replaced (2 s later)" \
	test "$(names web)" = "$pnames" -a "$(count web Running True)" = 19
apply_rs web 25 32Mi $'\n            memory: 48Mi' true
sleep 1
check "paused: replicas 25 asked, nothing created" test "$(nnames web)" = 20
check "resume (replicas 20)" apply_rs web 20 32Mi $'\n            memory: 48Mi' false
resumed() { is_count web Running True 20 && ! names web | grep -qx "$pv"; }
check "resumed: the Failed VMI is replaced and deleted" wait_for 30 resumed
check "event SuccessfulResumed" wait_for 10 has_event web SuccessfulResumed
no_paused_cond() { ! paused_cond; }
check "condition ReplicaPaused gone" wait_for 10 no_paused_cond
checkn "20 of everything after resuming" 20

# ---- kill -9 of droverd ---------------------------------------------------------
vmms=$(vmm_pids | xargs)
kill -9 "$pid"
wait "$pid" 2> /dev/null
pid=
sleep 1
check "kill -9 of droverd: the 20 VMMs keep running" test "$(vmm_pids | xargs)" = "$vmms"
check "droverd restarts" start
same() { [ "$(vmm_pids | xargs)" = "$vmms" ] && is_count web Running True 20; }
check "adopted: 20 Running and Ready, the same 20 VMM processes" wait_for 20 same
checkn "adopted: 20 of everything" 20
av=$(names web | head -1)
kill -9 "$(vmm_of "$av")"
gone_av() { ! names web | grep -qx "$av" && is_count web Running True 20; }
check "after the restart: a killed VMM is replaced" wait_for 30 gone_av

# ---- unschedulable --------------------------------------------------------------
check "a VMIRS of 2 x 600Mi (room for one)" apply_rs big 2 600Mi
check "big: one Running" wait_for 30 is_count big Running True 1
unsched() {
	vmis_json | jq -e '[.items[] | select(.metadata.labels.app == "big" and .status.phase == "Pending" and
		([.status.conditions[]? | select(.type == "PodScheduled" and .status == "False" and
		.reason == "Unschedulable" and (.message | test("Insufficient memory")))] | length) == 1)] |
		length == 1' > /dev/null
}
check "big: the other Pending, PodScheduled=False Unschedulable, Insufficient memory" wait_for 10 unsched
pend=$(vmis_json | jq -r '.items[] | select(.metadata.labels.app == "big" and .status.phase == "Pending") | .metadata.name')
check "big: a FailedScheduling event about it" has_event "$pend" FailedScheduling
big1=$(vmis_json | jq -r '.items[] | select(.metadata.labels.app == "big" and .status.phase == "Running") | .metadata.name')
cg=$(ctl get pods -n $ns -o json | jq -r --arg v "$big1" '.items[] |
	select(.metadata.labels["vm.kubevirt.io/name"] == $v) | .metadata.annotations["drover.dev/cgroup"]')
overhead=$(( (16 * mi + mi + 600 * mi / 256 + mi - 1) / mi * mi ))
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then mfile=". memory.max"; else mfile="memory memory.limit_in_bytes"; fi
check "big: no memory limit on the VMI, its cgroup caps guest RAM + overhead ($(( 600 * mi + overhead )))" \
	test "$(cgfile $mfile)" = $(( 600 * mi + overhead ))
check "scale web to 5 (room appears)" q ctl scale vmirs web --replicas 5 -n $ns
check "big: the Pending one starts" wait_for 60 is_count big Running True 2

# ---- bad input --------------------------------------------------------------------
rs bad 1 265Mx | ctl apply -f - -n $ns > "$T/bad.out" 2>&1
rc=$?
check "a bad quantity: refused (exit 1), the field named" \
	bash -c "[ $rc = 1 ] && grep -q 'spec.template.spec.domain.resources.requests.memory' '$T/bad.out'"
check "... and not stored" gone vmirs bad
vmi nok test.local/nokernel:1 | ctl apply -f - -n $ns > /dev/null
check "a disk naming a missing kernel: the VMI is Failed" wait_for 20 is_phase nok Failed
nok_msg() {
	ctl get vmi nok -n $ns -o json | jq -r '.status.conditions[] | select(.type == "Ready") | .message' |
		grep -q 'missing-kernel'
}
check "... its Ready condition says why (the VMM's words, the kernel named)" nok_msg
warn_ev() { ctl get events -n $ns -o json | jq -e '[.items[] | select(.involvedObject.name == "nok" and .type == "Warning")] | length >= 1' > /dev/null; }
check "... a Warning event about it" warn_ev
check "droverd still answers" q ctl get ns
check "delete that VMI" q ctl delete vmi nok -n $ns
check "deleted: gone" wait_for 10 gone vmi nok

# ---- delete a VMI, a VMIRS, the namespace: nothing left -------------------------
one=$(names web | head -1)
check "delete one VMI of web" q ctl delete vmi "$one" -n $ns
check "... it is replaced; 7 of everything (5 web, 2 big)" wait_for 30 is_count web Running True 5
checkn "7 of everything" 7
check "delete the VMIRS big" q ctl delete vmirs big -n $ns
checkn "5 of everything left" 5
check "delete the namespace" q ctl delete ns $ns
checkn "nothing left: no VMM, Pod, run dir, socket, state file, overlay or cgroup" 0
no_objects() { [ "$(ctl get vmi -A -o json | jq '.items | length')" = 0 ] && [ "$(ctl get pods -A -o json | jq '.items | length')" = 0 ]; }
check "no VMI or Pod object left in the store" wait_for 10 no_objects
check "droverd stops cleanly (status 0, no leaks)" stop

# ---- full disks -------------------------------------------------------------------
# A second life: the store and the disks on small tmpfs mounts.
mkdir -p "$T/small" "$T/eph"
mount -t tmpfs -o size=16m tmpfs "$T/small" && mount -t tmpfs -o size=64k tmpfs "$T/eph" ||
	{ nok "tmpfs mounts for the full-disk checks"; exit 1; }
jq --arg s "$T/small/state" --arg e "$T/eph" '.["state-dir"] = $s | .["ephemeral-dir"] = $e' \
	"$T/droverd.json" > "$T/full.json"
EPH=$T/eph
check "droverd starts with its store on a 16 MiB tmpfs" start "$T/full.json"
vmi f1 test.local/idle:1 | ctl apply -f - -n $ns > /dev/null
check "overlays on a full 64 KiB disk: the VMI is Failed" wait_for 20 is_phase f1 Failed
full_msg() {
	ctl get vmi f1 -n $ns -o json | jq -r '.status.conditions[] | select(.type == "Ready") | .message' |
		grep -q 'No space left on device'
}
check "... its condition says \"No space left on device\"" full_msg
ctl delete vmi f1 -n $ns > /dev/null
wait_for 10 gone vmi f1
umount "$T/eph" && rmdir "$T/eph"
mkdir -p "$T/eph"
vmi f2 test.local/idle:1 | ctl apply -f - -n $ns > /dev/null
check "the store's disk not full yet: a VMI runs" wait_for 20 is_phase f2 Running
dd if=/dev/zero of="$T/small/filler" bs=64k > /dev/null 2>&1
vmi f3 test.local/idle:1 | ctl apply -f - -n $ns > "$T/full.out" 2>&1
rc=$?
check "the store's disk full: a create is refused (exit 1), saying \"No space left on device\"" \
	bash -c "[ $rc = 1 ] && grep -q 'No space left on device' '$T/full.out'"
check "... droverd still answers" q ctl get ns
check "... a delete still works (the journal's reserve)" q ctl delete vmi f2 -n $ns
f2_gone() { ! ctl get vmi f2 -n $ns > /dev/null 2>&1 && [ "$(nvmm)" = 0 ]; }
check "... and the VMI goes with its VMM" wait_for 20 f2_gone
rm -f "$T/small/filler"
apply_vmi() { vmi "$1" "$2" | ctl apply -f - -n $ns > /dev/null; }
check "space freed: creates work again" apply_vmi f3 test.local/idle:1
check "... and it runs" wait_for 20 is_phase f3 Running
check "delete it" q ctl delete vmi f3 -n $ns
checkn "nothing left" 0
check "droverd stops cleanly (status 0, no leaks)" stop
exit $failed
