#!/usr/bin/env bash
# tests/agent/hpa-kubectl.sh BUILD (e.g. build/asan): the lab's steps 5-8
# with the real kubectl against droverd's mTLS API on the bare host: the
# lab's replica set scaled to 1, the lab's HorizontalPodAutoscaler
# (autoscaling/v1) applied, `kubectl get hpa` with its exact columns
# (`cpu: N%/75%  1 2 1`), the same object read as autoscaling/v2
# (conditions); then CPU load in the guest: the lab's containerDisk is
# pre-loaded as an ext2 disk booting the PVH test payload's "load" test,
# which burns its vCPU after an 'l' on its serial console (the lab's dd)
# and idles again after a 'k'. The real HPA reads the VMI's cgroup
# (usage.c, what `kubectl top pod` shows), TARGETS climbs over 75%,
# REPLICAS becomes 2 and a second VMI runs; the load stops and, after
# the scale-down stabilization window (20 s here, set through
# spec.behavior with kubectl patch: autoscaling/v2), REPLICAS is 1 again,
# with the SuccessfulRescale events. The agent config's "hpa" sets the
# controller's sync period to 5 s (kube-controller-manager's
# --horizontal-pod-autoscaler-sync-period; default 15 s). Root, /dev/kvm.
# About 60 s.
set -uo pipefail
build=${1:-build/asan}
bin=$build/bin
payload=$build/tests/payloads/pvh.elf
lab=${DROVER_LAB:-/work/shared/lab}
[ -d "$lab" ] || lab=$(cd "$(dirname "$0")/../.." && pwd)/../shared/lab
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
failed=0
pid=

NAME=hpa-kubectl
# shellcheck source=tests/agent/lib.sh
. "$(dirname "$0")/lib.sh"
wait_for() { # wait_for SECONDS COMMAND... (kubectl is slow to start: 1 s steps)
	local end=$(( $(date +%s) + $1 )); shift
	until "$@"; do [ "$(date +%s)" -lt "$end" ] || return 1; sleep 1; done
}

for f in "$bin/droverd" "$bin/droverctl" "$bin/drover-vmm" "$payload"; do
	[ -e "$f" ] || { echo "not ok - hpa-kubectl: $f built"; exit 1; }
done
if [ "$(id -u)" != 0 ] || [ ! -w /dev/kvm ] || ! command -v mke2fs > /dev/null ||
    ! command -v kubectl > /dev/null || ! command -v jq > /dev/null ||
    ! command -v python3 > /dev/null; then
	echo "ok - hpa-kubectl # SKIP needs root, /dev/kvm, mke2fs, kubectl, jq and python3"
	exit 0
fi
if ! "$bin/droverd" --help 2>&1 | grep -q '"tls"'; then
	echo "ok - hpa-kubectl # SKIP droverd is built without the mTLS transport"
	exit 0
fi
[ -f "$lab/hpa_lab05-cirros.yaml" ] || { echo "ok - hpa-kubectl # SKIP no lab in $lab"; exit 0; }

agent_tmp hpa-kubectl	# $T (droverd-api can enter it), bin=$T/bin
cgp=drover-hpa-$$
P=$T/pki
port=$(( 20000 + RANDOM % 20000 ))
url=https://127.0.0.1:$port
ns=alice
RS=lab05-cirros-replicaset
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	for p in $(pgrep -f "drover-vmm --config $T/"); do kill -9 "$p"; done
	rmdir /sys/fs/cgroup/*/"$cgp"/* /sys/fs/cgroup/*/"$cgp" 2>/dev/null
	if [ $failed -ne 0 ]; then
		echo "# kubectl get hpa, last seen:"
		sed 's/^/# /' "$T/g" 2>/dev/null
		echo "# droverd log (last 30 lines):"
		tail -n 30 "$T/droverd.log" | sed 's/^/# /'
	fi
	[ -n "${KEEP:-}" ] && echo "# kept $T" || rm -rf "$T"
}
trap cleanup EXIT

"$bin/droverctl" certs init --dir "$P" > /dev/null &&
"$bin/droverctl" certs user alice --dir "$P" > /dev/null &&
"$bin/droverctl" kubeconfig alice --server "$url" --dir "$P" --out "$T/kc" 2> /dev/null ||
	{ nok "droverctl certs init/user/kubeconfig"; exit 1; }
mkdir -p "$T/disk/boot/grub"
cp "$payload" "$T/disk/boot/vmlinuz"
printf 'default 0\ntimeout 0\ntitle payload\nkernel /boot/vmlinuz boottimer load\n' \
	> "$T/disk/boot/grub/menu.lst"
mke2fs -q -F -t ext2 -d "$T/disk" "$T/disk.raw" 8M > /dev/null
cat > "$T/droverd.json" <<EOF
{"state-dir": "$T/state", "run-dir": "$T/run", "node-name": "edge1",
 "vmm": "$bin/drover-vmm", "listen": "127.0.0.1:$port",
 "tls": {"cert": "$P/server.crt", "key": "$P/server.key", "client-ca": "$P/ca.crt"},
 "cgroup-root": "/sys/fs/cgroup", "cgroup-parent": "$cgp",
 "vmm-user": "65534:65534", "poll-ms": 200, "hpa": {"sync-period": 5},
 "images": {"preloaded": {"quay.io/kubevirt/cirros-container-disk-demo": "$T/disk.raw"}}}
EOF
k() { kubectl --kubeconfig "$T/kc" --cache-dir "$(mktemp -d "$T/cache.XXXXXX")" -n $ns "$@"; }
start() {
	"$bin/droverd" --config "$T/droverd.json" --log-level info >> "$T/droverd.log" 2>&1 &
	pid=$!
	wait_for 15 bash -c "kubectl --kubeconfig '$T/kc' --cache-dir '$T/c0' get --raw /version > /dev/null 2>&1"
}
bad_hpa_conf() {
	printf '{"state-dir": "%s/bad", "hpa": {"sync-period": 0}}' "$T" > "$T/bad.json"
	! "$bin/droverd" --config "$T/bad.json" > "$T/bad.out" 2>&1 &&
	grep -q '"hpa": want sync-period: an integer from 1 to 3600' "$T/bad.out"
}
check "the agent config's \"hpa\" is checked (sync-period 0: refused, named)" bad_hpa_conf
check "droverd serves the mTLS API (and runs the runtime)" start

# ---- lab steps 1 and 5: the replica set, scaled to 1 ------------------------
running() { # running N: N VMIs of the replica set Running and Ready
	[ "$(k get vmi -o json | jq '[.items[] | select(.status.phase == "Running" and
		([.status.conditions[]? | select(.type == "Ready")][0].status) == "True")] | length')" = "$1" ] &&
	[ "$(k get vmi -o json | jq '.items | length')" = "$1" ]
}
lab15() {
	k apply -f "$lab/vmirs_lab05-cirros.yaml" > /dev/null 2>&1 &&
	k scale vmirs $RS --replicas 1 > /dev/null 2>&1 && wait_for 60 running 1
}
check "the lab's VMIRS applied and scaled to 1: one VMI Running" lab15

# ---- lab step 6: the HPA ------------------------------------------------------
get_hpa() { k get hpa > "$T/g" 2>&1; }
row() { # row REGEX: the lab HPA's row of kubectl get hpa (after NAME REFERENCE)
	get_hpa && grep -Eq "^$RS +VirtualMachineInstanceReplicaSet/$RS +$1" "$T/g"
}
apply_hpa() {
	[ "$(k apply -f "$lab/hpa_lab05-cirros.yaml" 2>&1)" = \
	    "horizontalpodautoscaler.autoscaling/$RS created" ]
}
check "kubectl apply -f hpa_lab05-cirros.yaml: created" apply_hpa
idle_row() {
	row 'cpu: [0-9]%/75% +1 +2 +1 +[0-9]+s$' &&
	[ "$(head -1 "$T/g" | tr -s ' ')" = "NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE" ]
}
check "kubectl get hpa: NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE, cpu: N%/75% 1 2 1 (idle)" \
	wait_for 30 idle_row
sed 's/^/# /' "$T/g"
cond() { # cond TYPE STATUS REASON on the autoscaling/v2 view
	k get horizontalpodautoscalers.v2.autoscaling $RS -o json > "$T/v2" 2>&1 &&
	jq -e --arg t "$1" --arg s "$2" --arg r "$3" \
		'[.status.conditions[] | select(.type == $t and .status == $s and .reason == $r)] | length == 1' "$T/v2" > /dev/null
}
v2_view() {
	cond AbleToScale True ReadyForNewScale && cond ScalingActive True ValidMetricFound &&
	cond ScalingLimited False DesiredWithinRange &&
	jq -e '.apiVersion == "autoscaling/v2" and .status.currentReplicas == 1 and .status.desiredReplicas == 1 and
		.status.currentMetrics[0].resource.name == "cpu" and
		(.status.currentMetrics[0].resource.current.averageUtilization | type) == "number" and
		.spec.metrics[0].resource.target.averageUtilization == 75' "$T/v2" > /dev/null &&
	k get horizontalpodautoscalers.v1.autoscaling $RS -o json > "$T/v1" 2>&1 &&
	jq -e '.apiVersion == "autoscaling/v1" and (.status.currentCPUUtilizationPercentage | type) == "number" and
		.status.currentReplicas == 1 and .spec.targetCPUUtilizationPercentage == 75' "$T/v1" > /dev/null
}
views() { # shown when they are not what they should be
	wait_for 5 v2_view && return 0
	{ head -c 3000 "$T/v2"; echo; head -c 2000 "$T/v1"; echo; } 2> /dev/null | sed 's/^/# /'
	return 1
}
check "the same HPA as autoscaling/v2 (AbleToScale, ScalingActive, ScalingLimited, currentMetrics) and v1 (currentCPUUtilizationPercentage)" \
	views
patch_behavior() {
	k patch hpa $RS --type=merge \
		-p '{"spec":{"behavior":{"scaleDown":{"stabilizationWindowSeconds":20}}}}' > /dev/null 2>&1 &&
	k get horizontalpodautoscalers.v2.autoscaling $RS -o json | jq -e '.spec.behavior.scaleDown.stabilizationWindowSeconds == 20 and
		.spec.behavior.scaleDown.policies[0].type == "Percent" and .spec.behavior.scaleUp.selectPolicy == "Max"' > /dev/null
}
check "kubectl patch hpa: spec.behavior.scaleDown.stabilizationWindowSeconds 20 (v2, defaults filled in)" patch_behavior

# ---- lab step 8: load in one VM's console ---------------------------------------
vmi1=$(k get vmi -o json | jq -r '.items[0].metadata.name')
sock=$(ls "$T"/run/vmi/$ns/"$vmi1"/console.sock "$T"/run/vmi/_/*/console.sock 2>/dev/null | head -1)
# console CHAR WANT: type CHAR on the VMI's serial console, wait for WANT.
console() {
	python3 - "$sock" "$1" "$2" <<-'EOF'
	import socket, sys, time
	s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	s.connect(sys.argv[1])
	s.settimeout(0.5)
	seen, end = b"", time.time() + 10
	s.sendall(sys.argv[2].encode())
	while time.time() < end:
	    try:
	        d = s.recv(4096)
	    except socket.timeout:
	        continue
	    if not d:
	        break
	    seen += d
	    if seen.count(sys.argv[3].encode()) > 0 and seen.endswith(b"\n"):
	        sys.exit(0)
	sys.exit(1)
	EOF
}
t0=$(date +%s)
check "the guest's console: 'l' starts the load (load: busy)" console l 'load: busy'
hot() { row 'cpu: ([1-9][0-9]{2,}|[8-9][0-9])%/75% +1 +2 +[12] '; }
check "under load TARGETS climbs over 75% (kubectl get hpa)" wait_for 40 hot
grep -Eo 'cpu: [0-9]+%/75%' "$T/g" | sed 's/^/# under load: /'
two() { row 'cpu: [0-9]+%/75% +1 +2 +2 ' && running 2; }
check "REPLICAS 2 and a second VMI Running (the VMIRS scaled by the HPA)" wait_for 60 two
t_up=$(( $(date +%s) - t0 ))
event() { k get events -o json | jq -e --arg m "$1" '[.items[] | select(.reason == "SuccessfulRescale" and
	.involvedObject.kind == "HorizontalPodAutoscaler" and .message == $m)] | length >= 1' > /dev/null; }
check "event SuccessfulRescale: New size: 2; reason: cpu resource utilization (percentage of request) above target" \
	event "New size: 2; reason: cpu resource utilization (percentage of request) above target"
scaled_up() { cond AbleToScale True SucceededRescale || cond ScalingLimited True TooManyReplicas; }
check "conditions after the scale-up: SucceededRescale or ScalingLimited TooManyReplicas (max 2)" scaled_up
describe() {
	k describe hpa $RS > "$T/d" 2>&1 &&
	grep -Eq '^Reference: +VirtualMachineInstanceReplicaSet/'"$RS"'$' "$T/d" &&
	grep -Eq '^Min replicas: +1$' "$T/d" && grep -Eq '^Max replicas: +2$' "$T/d" &&
	grep -Eq '^ +AbleToScale +True ' "$T/d" && grep -Eq '^ +ScalingActive +True +ValidMetricFound ' "$T/d" &&
	grep -Eq 'Normal +SuccessfulRescale .*New size: 2; reason: cpu resource utilization \(percentage of request\) above target' "$T/d"
}
check "kubectl describe hpa: reference, min/max, conditions, the SuccessfulRescale event" describe

# ---- the load ends: down after the stabilization window ---------------------------
t1=$(date +%s)
check "the guest's console: 'k' ends the load (load: idle)" console k 'load: idle'
stabilized=0
down() {
	cond AbleToScale True ScaleDownStabilized && stabilized=1
	row 'cpu: [0-9]+%/75% +1 +2 +1 ' && running 1
}
check "REPLICAS 1 again and one VMI left" wait_for 120 down
t_down=$(( $(date +%s) - t1 ))
# the last high recommendation is at most one sync period (5 s) before
# the load ended: down no sooner than 20 - 5 s after it
check "the scale-down waited for the window (ScaleDownStabilized seen, $t_down s >= 15 s)" \
	test "$stabilized" = 1 -a "$t_down" -ge 15
check "event SuccessfulRescale: New size: 1; reason: All metrics below target" \
	event "New size: 1; reason: All metrics below target"
echo "# scale-up took $t_up s after the load began, scale-down $t_down s after it ended"

no_vmm() { ! pgrep -f "drover-vmm --config $T/" > /dev/null; }
delete_all() {
	k delete hpa $RS > /dev/null 2>&1 && k delete vmirs $RS > /dev/null 2>&1 &&
	wait_for 30 no_vmm
}
check "kubectl delete hpa, vmirs: no VMM left" delete_all
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
check "droverd stops cleanly (status 0, no leaks)" test "$rc" = 0
exit $failed
