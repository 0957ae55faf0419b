#!/usr/bin/env bash
# tests/agent/kapi-kubectl.sh BUILD (e.g. build/asan): the real kubectl
# (/usr/bin/kubectl, a fresh --cache-dir for every call) against droverd's
# mutual-TLS Kubernetes API on the bare host, with the VMI runtime running
# the lab's replica set (the lab's containerDisk name pre-loaded as an
# ext2 disk booting the PVH test payload, as runtime-droverd.sh does).
# Users from `droverctl certs`: admin (system:masters), alice (her
# namespace "alice", as the lab's --namespace=$USER), vera
# (drover:viewers). What the lab's users run, with the exact columns:
# version, api-resources, explain, apply (create, unchanged, configured),
# get vmirs / vmi / hpa / pods / events, -o yaml, -w, scale, edit (EDITOR
# a script), top pod, delete (returns once gone; a VMI's VMM stopped);
# curl with client certificates for the same paths; and refusals, each
# shown to change nothing: another user's namespace 403, a viewer's
# writes 403, unknown fields (Strict) 400, malformed JSON 400, malformed
# YAML 400, KubeVirt's admission 422, a stale resourceVersion 409,
# server-side apply 415. Root and /dev/kvm. About 60 s.
set -uo pipefail
build=${1:-build/asan}
bin=$build/bin
payload=$build/tests/payloads/pvh.elf
lab=${DROVER_LAB:-/work/shared/lab}
[ -d "$lab" ] || lab=$(cd "$(dirname "$0")/../.." && pwd)/../shared/lab
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
failed=0
pid=

NAME=kapi-kubectl
# shellcheck source=tests/agent/lib.sh
. "$(dirname "$0")/lib.sh"

for f in "$bin/droverd" "$bin/droverctl" "$bin/drover-vmm" "$payload"; do
	[ -e "$f" ] || { echo "not ok - kapi-kubectl: $f built"; exit 1; }
done
if [ "$(id -u)" != 0 ] || [ ! -w /dev/kvm ] || ! command -v mke2fs > /dev/null ||
    ! command -v kubectl > /dev/null || ! command -v curl > /dev/null ||
    ! command -v jq > /dev/null; then
	echo "ok - kapi-kubectl # SKIP needs root, /dev/kvm, mke2fs, kubectl, curl and jq"
	exit 0
fi
if ! "$bin/droverd" --help 2>&1 | grep -q '"tls"'; then
	echo "ok - kapi-kubectl # SKIP droverd is built without the mTLS transport (agent/apiserver.c)"
	exit 0
fi
[ -f "$lab/vmirs_lab05-cirros.yaml" ] || { echo "ok - kapi-kubectl # SKIP no lab in $lab"; exit 0; }

agent_tmp kapi-kubectl	# $T (droverd-api can enter it), bin=$T/bin
cgp=drover-kk-$$
P=$T/pki
port=$(( 20000 + RANDOM % 20000 ))
url=https://127.0.0.1:$port
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	for p in $(pgrep -f "drover-vmm --config $T/"); do kill -9 "$p"; done
	rmdir /sys/fs/cgroup/*/"$cgp"/* /sys/fs/cgroup/*/"$cgp" 2>/dev/null
	if [ $failed -ne 0 ]; then
		echo "# droverd log (last 30 lines):"
		tail -n 30 "$T/droverd.log" | sed 's/^/# /'
	fi
	[ -n "${KEEP:-}" ] && echo "# kept $T" || rm -rf "$T"
}
trap cleanup EXIT

# ---- set-up: certificates, the payload disk, droverd ----------------------
"$bin/droverctl" certs init --dir "$P" > /dev/null &&
for u in "admin --group system:masters" "alice" "vera --group drover:viewers"; do
	# shellcheck disable=SC2086
	"$bin/droverctl" certs user $u --dir "$P" > /dev/null || exit 1
	n=${u%% *}
	"$bin/droverctl" kubeconfig "$n" --server "$url" --dir "$P" --out "$T/kc-$n" 2> /dev/null || exit 1
done || { nok "droverctl certs init/user/kubeconfig"; exit 1; }
mkdir -p "$T/disk/boot/grub"
cp "$payload" "$T/disk/boot/vmlinuz"
printf 'default 0\ntimeout 0\ntitle payload\nkernel /boot/vmlinuz boottimer ctrlaltdel\n' \
	> "$T/disk/boot/grub/menu.lst"
mke2fs -q -F -t ext2 -d "$T/disk" "$T/disk.raw" 8M > /dev/null
cat > "$T/droverd.json" <<EOF
{"state-dir": "$T/state", "run-dir": "$T/run", "node-name": "edge1",
 "vmm": "$bin/drover-vmm", "listen": "127.0.0.1:$port",
 "tls": {"cert": "$P/server.crt", "key": "$P/server.key", "client-ca": "$P/ca.crt"},
 "cgroup-root": "/sys/fs/cgroup", "cgroup-parent": "$cgp",
 "vmm-user": "65534:65534", "poll-ms": 200,
 "images": {"preloaded": {"quay.io/kubevirt/cirros-container-disk-demo": "$T/disk.raw"}}}
EOF
# kubectl as a user, with a fresh discovery cache every time.
kc() { local u=$1; shift; kubectl --kubeconfig "$T/kc-$u" --cache-dir "$(mktemp -d "$T/cache.XXXXXX")" "$@"; }
k() { kc alice "$@" -n alice; }
ka() { kc admin "$@"; }
# curl as a user: curl USER METHOD PATH [curl args]; prints the body, then the code.
cu() {
	local u=$1 m=$2 path=$3; shift 3
	curl -s -o "$T/cu.body" -w '%{http_code}' --cacert "$P/ca.crt" \
		--cert "$P/users/$u.crt" --key "$P/users/$u.key" -X "$m" "$@" "$url$path"
}
start() {
	"$bin/droverd" --config "$T/droverd.json" --log-level info >> "$T/droverd.log" 2>&1 &
	pid=$!
	wait_for 15 bash -c "kubectl --kubeconfig '$T/kc-admin' --cache-dir '$T/c0' get --raw /version > /dev/null 2>&1"
}
check "droverd serves the mTLS API (and runs the runtime)" start

RS=/apis/kubevirt.io/v1/namespaces/alice/virtualmachineinstancereplicasets
# The object as admin sees it (JSON), or "" when absent.
obj() { cu admin GET "$1" > "$T/obj.code"; [ "$(cat "$T/obj.code")" = 200 ] && cat "$T/cu.body"; }
# uid, generation and spec of an object: what a refused write must keep.
fingerprint() { obj "$1" | jq -c '[.metadata.uid, .metadata.generation, .spec]'; }

# ---- what the lab's users run ------------------------------------------------
version() { kc alice version 2>&1 | grep -q '^Server Version: v1.32.0'; }
check "kubectl version: the server is v1.32.0" version
api_resources() {
	ka api-resources > "$T/ar" 2>&1 &&
	grep -Eq '^virtualmachineinstancereplicasets +vmirs,vmirss +kubevirt.io/v1 +true +VirtualMachineInstanceReplicaSet$' "$T/ar" &&
	grep -Eq '^virtualmachineinstances +vmi,vmis +kubevirt.io/v1 +true +VirtualMachineInstance$' "$T/ar" &&
	grep -Eq '^horizontalpodautoscalers +hpa +autoscaling/v2 +true +HorizontalPodAutoscaler$' "$T/ar" &&
	grep -Eq '^pods +metrics.k8s.io/v1beta1 +true +PodMetrics$' "$T/ar" &&
	grep -Eq '^namespaces +ns +v1 +false +Namespace$' "$T/ar"
}
check "kubectl api-resources: the kinds, short names, groups" api_resources
explain() {
	kc alice explain vmirs > "$T/ex" 2>&1 && grep -q '^KIND: *VirtualMachineInstanceReplicaSet' "$T/ex" &&
	grep -q '^FIELDS:' "$T/ex" && grep -Eq '^  spec.<Object>' "$T/ex" &&
	kc alice explain vmirs.spec.replicas > "$T/ex" 2>&1 && grep -q '^FIELD: replicas <integer>' "$T/ex" &&
	kc alice explain hpa.spec.maxReplicas > "$T/ex" 2>&1 && grep -q '^FIELD: maxReplicas <integer>' "$T/ex"
}
check "kubectl explain vmirs, vmirs.spec.replicas, hpa.spec.maxReplicas" explain

apply_create() {
	[ "$(k apply -f "$lab/vmirs_lab05-cirros.yaml" 2>&1)" = \
	    "virtualmachineinstancereplicaset.kubevirt.io/lab05-cirros-replicaset created" ]
}
check "kubectl apply (create): ... created" apply_create
apply_unchanged() {
	[ "$(k apply -f "$lab/vmirs_lab05-cirros.yaml" 2>&1)" = \
	    "virtualmachineinstancereplicaset.kubevirt.io/lab05-cirros-replicaset unchanged" ]
}
check "kubectl apply again: ... unchanged" apply_unchanged
sed 's/^  name: lab05-cirros-replicaset$/  name: lab05-cirros-replicaset\n  labels:\n    course: lab05/' \
	"$lab/vmirs_lab05-cirros.yaml" > "$T/vmirs-labelled.yaml"
apply_update() {
	[ "$(k apply -f "$T/vmirs-labelled.yaml" 2>&1)" = \
	    "virtualmachineinstancereplicaset.kubevirt.io/lab05-cirros-replicaset configured" ] &&
	[ "$(obj $RS/lab05-cirros-replicaset | jq -r '.metadata.labels.course')" = lab05 ]
}
check "kubectl apply (update): ... configured, the label stored" apply_update

vmirs_row() { k get vmirs > "$T/g" 2>&1 && grep -Eq "^lab05-cirros-replicaset +$1 +$2 +$3 +[0-9]+[smhd]" "$T/g"; }
get_vmirs() {
	wait_for 30 vmirs_row 2 2 2 &&
	[ "$(head -1 "$T/g" | tr -s ' ')" = "NAME DESIRED CURRENT READY AGE" ]
}
check "kubectl get vmirs: NAME DESIRED CURRENT READY AGE, 2 2 2" get_vmirs
get_vmi() {
	k get vmi > "$T/g" 2>&1 &&
	[ "$(head -1 "$T/g" | tr -s ' ')" = "NAME AGE PHASE IP NODENAME READY" ] &&
	[ "$(grep -Ec '^lab05-cirros-replicaset[bcdfghjklmnpqrstvwxz2456789]{5} +[0-9]+[smh][0-9s]* +Running +([0-9.]+ +)?edge1 +True$' "$T/g")" = 2 ]
}
check "kubectl get vmi: NAME AGE PHASE IP NODENAME READY, 2 Running on edge1, True" get_vmi
get_pods() {
	k get pods > "$T/g" 2>&1 &&
	[ "$(head -1 "$T/g" | tr -s ' ')" = "NAME READY STATUS RESTARTS AGE" ] &&
	[ "$(grep -Ec '^virt-launcher-lab05-cirros-replicaset[a-z0-9]{5}-[a-z0-9]{5} +1/1 +Running +0 +' "$T/g")" = 2 ]
}
check "kubectl get pods: the virt-launcher views" get_pods
get_yaml() {
	k get vmirs -o yaml > "$T/y" 2>&1 && grep -q '^kind: List$' "$T/y" &&
	grep -q '^  kind: VirtualMachineInstanceReplicaSet$' "$T/y" &&
	grep -q '^    uid: ' "$T/y" && grep -q '^    replicas: 2$' "$T/y" &&
	k get vmirs lab05-cirros-replicaset -o json | jq -e '.status.readyReplicas == 2' > /dev/null
}
check "kubectl get -o yaml: a List of the stored objects; -o json of one" get_yaml
get_events() {
	k get events > "$T/g" 2>&1 &&
	[ "$(head -1 "$T/g" | tr -s ' ')" = "LAST SEEN TYPE REASON OBJECT MESSAGE" ] &&
	grep -Eq '^[0-9]+[smh] +Normal +SuccessfulCreate +virtualmachineinstancereplicaset/lab05-cirros-replicaset +Created virtual machine: lab05-cirros-replicaset' "$T/g"
}
check "kubectl get events: LAST SEEN TYPE REASON OBJECT MESSAGE, SuccessfulCreate" get_events

# get -w while scaling: the watch prints the VMI going away.
( timeout 15 kubectl --kubeconfig "$T/kc-alice" --cache-dir "$T/cw" get vmi -n alice -w > "$T/watch" 2>&1 ) &
wpid=$!
wait_for 5 bash -c "[ \$(grep -c lab05 '$T/watch') -ge 2 ]"
n_vmis() { [ "$(obj $RS/../virtualmachineinstances | jq '.items | length')" = "$1" ]; }
scale() {
	[ "$(k scale vmirs lab05-cirros-replicaset --replicas 1 2>&1)" = \
	    "virtualmachineinstancereplicaset.kubevirt.io/lab05-cirros-replicaset scaled" ] &&
	wait_for 20 n_vmis 1 && wait_for 10 vmirs_row 1 1 1
}
check "kubectl scale vmirs --replicas 1: one VMI left" scale
watch_saw() {
	wait_for 5 bash -c "[ \$(grep -c '^lab05-cirros-replicaset' '$T/watch') -ge 3 ]" &&
	[ "$(head -1 "$T/watch" | tr -s ' ')" = "NAME AGE PHASE IP NODENAME READY" ] &&
	[ "$(grep -c '^NAME' "$T/watch")" = 1 ]
}
check "kubectl get vmi -w: the list, then the changes as rows (one header)" watch_saw
kill "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null

cat > "$T/editor" <<'EOF'
#!/bin/sh
sed -i 's/^  replicas: 1$/  replicas: 2/' "$1"
EOF
chmod +x "$T/editor"
edit() {
	[ "$(EDITOR=$T/editor k edit vmirs lab05-cirros-replicaset 2>&1)" = \
	    "virtualmachineinstancereplicaset.kubevirt.io/lab05-cirros-replicaset edited" ] &&
	wait_for 20 vmirs_row 2 2 2 &&
	[ "$(EDITOR=true k edit vmirs lab05-cirros-replicaset 2>&1)" = "Edit cancelled, no changes made." ]
}
check "kubectl edit (EDITOR a script): replicas back to 2; unchanged: no PATCH" edit

apply_hpa() {
	[ "$(k apply -f "$lab/hpa_lab05-cirros.yaml" 2>&1)" = \
	    "horizontalpodautoscaler.autoscaling/lab05-cirros-replicaset created" ] &&
	k get hpa > "$T/g" 2>&1 &&
	[ "$(head -1 "$T/g" | tr -s ' ')" = "NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE" ] &&
	grep -Eq '^lab05-cirros-replicaset +VirtualMachineInstanceReplicaSet/lab05-cirros-replicaset +cpu: [^ ]+/75% +1 +2 +[0-9]+ +[0-9]+s$' "$T/g" &&
	[ "$(k apply -f "$lab/hpa_lab05-cirros.yaml" 2>&1)" = \
	    "horizontalpodautoscaler.autoscaling/lab05-cirros-replicaset unchanged" ] &&
	[ "$(obj /apis/autoscaling/v2/namespaces/alice/horizontalpodautoscalers/lab05-cirros-replicaset |
	    jq '.spec.metrics[0].resource.target.averageUtilization')" = 75 ]
}
check "kubectl apply hpa, get hpa: NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE (v1 in, v2 stored)" apply_hpa
top_pod() {
	k top pod > "$T/g" 2>&1 &&
	[ "$(head -1 "$T/g" | tr -s ' ')" = "NAME CPU(cores) MEMORY(bytes) " ] &&
	[ "$(grep -Ec '^virt-launcher-lab05-cirros-replicaset[a-z0-9]{5}-[a-z0-9]{5} +[0-9]+m +[0-9]+Mi +$' "$T/g")" = 2 ]
}
check "kubectl top pod: NAME CPU(cores) MEMORY(bytes), a virt-launcher row per VMI" wait_for 10 top_pod

# ---- curl with client certificates -----------------------------------------
curl_paths() {
	[ "$(cu alice GET $RS)" = 200 ] && jq -e '.kind == "VirtualMachineInstanceReplicaSetList" and (.items | length) == 1' "$T/cu.body" > /dev/null &&
	[ "$(cu alice GET $RS/lab05-cirros-replicaset/scale)" = 200 ] && jq -e '.spec.replicas == 2 and .status.selector == "kubevirt.io/domain=lab05-cirros"' "$T/cu.body" > /dev/null &&
	[ "$(cu alice GET /apis/metrics.k8s.io/v1beta1/namespaces/alice/pods)" = 200 ] && jq -e '(.items | length) == 2' "$T/cu.body" > /dev/null &&
	[ "$(cu alice GET "$RS?watch=true&timeoutSeconds=1")" = 200 ] && grep -q '"type":"ADDED"' "$T/cu.body" &&
	[ "$(cu alice GET /openapi/v3/apis/kubevirt.io/v1)" = 200 ] &&
	[ "$(cu alice PATCH $RS/lab05-cirros-replicaset -H 'Content-Type: application/merge-patch+json' -d '{"metadata":{"annotations":{"by":"curl"}}}')" = 200 ] &&
	[ "$(obj $RS/lab05-cirros-replicaset | jq -r .metadata.annotations.by)" = curl ]
}
check "curl: list, scale, metrics, watch, OpenAPI, merge patch" curl_paths

# ---- refusals, each changing nothing ----------------------------------------
fp=$(fingerprint $RS/lab05-cirros-replicaset)
unchanged() { [ "$(fingerprint $RS/lab05-cirros-replicaset)" = "$fp" ]; }
other_ns() {
	kc alice apply -f "$lab/vmirs_lab05-cirros.yaml" -n bob > "$T/e" 2>&1
	grep -q '^Error from server (Forbidden)' "$T/e" &&
	grep -q 'virtualmachineinstancereplicasets.kubevirt.io "lab05-cirros-replicaset" is forbidden: User "alice" cannot get resource "virtualmachineinstancereplicasets" in API group "kubevirt.io" in the namespace "bob"$' "$T/e" &&
	[ "$(cu alice POST /apis/kubevirt.io/v1/namespaces/bob/virtualmachineinstancereplicasets \
	    -H 'Content-Type: application/json' --data-binary @<(k get vmirs lab05-cirros-replicaset -o json | jq 'del(.metadata.namespace,.metadata.resourceVersion,.metadata.uid)'))" = 403 ] &&
	! kc alice get vmirs -A > /dev/null 2>&1 &&
	[ "$(cu admin GET /apis/kubevirt.io/v1/namespaces/bob/virtualmachineinstancereplicasets)" = 200 ] &&
	jq -e '(.items | length) == 0' "$T/cu.body" > /dev/null &&
	[ "$(cu admin GET /api/v1/namespaces/bob)" = 404 ]
}
check "another user's namespace: 403 Forbidden, nothing stored there (not even the Namespace)" other_ns
viewer() {
	kc vera get vmirs -n alice > /dev/null 2>&1 &&
	kc vera scale vmirs lab05-cirros-replicaset --replicas 3 -n alice > "$T/e" 2>&1
	grep -q 'Error from server (Forbidden).*User "vera" cannot patch resource "virtualmachineinstancereplicasets/scale"' "$T/e" &&
	! kc vera delete vmirs lab05-cirros-replicaset -n alice > /dev/null 2>&1 &&
	[ "$(cu vera DELETE $RS/lab05-cirros-replicaset)" = 403 ] && unchanged
}
check "a viewer reads, and its scale and delete are 403: unchanged" viewer
strict() {
	sed 's/^  replicas: 2$/  replicas: 2\n  replicaz: 3/' "$lab/vmirs_lab05-cirros.yaml" > "$T/bad.yaml"
	k apply -f "$T/bad.yaml" > "$T/e" 2>&1
	grep -q '^Error from server (BadRequest): error when applying patch:' "$T/e" &&
	grep -q 'VirtualMachineInstanceReplicaSet in version "v1" cannot be handled as a VirtualMachineInstanceReplicaSet: strict decoding error: unknown field "spec.replicaz"$' "$T/e" &&
	unchanged
}
check "an unknown field (fieldValidation=Strict): 400, unchanged" strict
malformed() {
	[ "$(cu alice POST $RS -H 'Content-Type: application/json' -d '{"apiVersion":"kubevirt.io/v1","kind":')" = 400 ] &&
	jq -e '.reason == "BadRequest"' "$T/cu.body" > /dev/null &&
	[ "$(cu alice POST $RS -H 'Content-Type: application/yaml' --data-binary $'metadata:\n  name: [x\n')" = 400 ] &&
	grep -q 'error converting YAML to JSON' "$T/cu.body" &&
	[ "$(cu alice PATCH $RS/lab05-cirros-replicaset -H 'Content-Type: application/merge-patch+json' -d '{"spec":')" = 400 ] &&
	[ "$(obj $RS | jq '.items | length')" = 1 ] && unchanged
}
check "malformed JSON and YAML: 400, nothing stored" malformed
admission() {
	sed 's/^      kubevirt.io\/domain: lab05-cirros$/      kubevirt.io\/domain: other/' "$lab/vmirs_lab05-cirros.yaml" |
		sed 's/name: lab05-cirros-replicaset/name: mismatched/' > "$T/mis.yaml"
	# kubectl prints a 422 with causes as its causes, for KubeVirt too
	k apply -f "$T/mis.yaml" > "$T/e" 2>&1
	grep -qx 'The request is invalid: spec.selector: selector does not match labels.' "$T/e" &&
	[ "$(cu alice POST $RS -H 'Content-Type: application/yaml' --data-binary @"$T/mis.yaml")" = 422 ] &&
	jq -e '.message == "admission webhook \"virtualmachinereplicaset-validator.kubevirt.io\" denied the request: selector does not match labels."' "$T/cu.body" > /dev/null &&
	[ "$(cu alice GET $RS/mismatched)" = 404 ] &&
	[ "$(cu alice PATCH $RS/lab05-cirros-replicaset -H 'Content-Type: application/json-patch+json' -d '[{"op":"replace","path":"/spec/replicas","value":-1}]')" = 422 ] &&
	unchanged
}
check "KubeVirt's admission (selector does not match labels: kubectl and curl), replicas -1: 422, nothing stored" admission
conflict() {
	local cur
	cur=$(obj $RS/lab05-cirros-replicaset | jq '.metadata.resourceVersion = "1" | .spec.replicas = 5')
	[ "$(cu alice PUT $RS/lab05-cirros-replicaset -H 'Content-Type: application/json' -d "$cur")" = 409 ] &&
	jq -e '.reason == "Conflict" and (.message | test("the object has been modified"))' "$T/cu.body" > /dev/null &&
	[ "$(cu alice PATCH $RS/lab05-cirros-replicaset -H 'Content-Type: application/merge-patch+json' -d '{"metadata":{"resourceVersion":"1"},"spec":{"replicas":5}}')" = 409 ] &&
	unchanged
}
check "a stale resourceVersion (PUT, PATCH): 409 Conflict, unchanged" conflict
ssa() {
	[ "$(cu alice PATCH $RS/lab05-cirros-replicaset -H 'Content-Type: application/apply-patch+yaml' -d 'spec: {replicas: 5}')" = 415 ] &&
	! k apply --server-side -f "$lab/vmirs_lab05-cirros.yaml" > /dev/null 2>&1 && unchanged
}
check "server-side apply: 415, unchanged" ssa

# ---- delete --------------------------------------------------------------------
delete_vmi() {
	local v
	v=$(obj $RS/../virtualmachineinstances | jq -r '.items[0].metadata.name')
	[ -n "$v" ] && [ "$(k delete vmi "$v" 2>&1)" = "virtualmachineinstance.kubevirt.io \"$v\" deleted" ] &&
	[ "$(cu alice GET /apis/kubevirt.io/v1/namespaces/alice/virtualmachineinstances/$v)" = 404 ] &&
	! [ -d "$T/run/vmi/alice/$v" ] && ! pgrep -f "drover-vmm --config $T/run/vmi/alice/$v/" > /dev/null
}
check "kubectl delete vmi: returns once it is gone, its VMM stopped and run dir removed" delete_vmi
delete_rs() {
	[ "$(k delete vmirs lab05-cirros-replicaset 2>&1)" = \
	    "virtualmachineinstancereplicaset.kubevirt.io \"lab05-cirros-replicaset\" deleted" ] &&
	[ "$(cu alice GET $RS/lab05-cirros-replicaset)" = 404 ] &&
	[ "$(k delete hpa lab05-cirros-replicaset 2>&1)" = \
	    "horizontalpodautoscaler.autoscaling \"lab05-cirros-replicaset\" deleted" ] &&
	wait_for 20 bash -c "[ -z \"\$(kubectl --kubeconfig '$T/kc-alice' --cache-dir '$T/c1' get vmi,pods -n alice -o name 2>/dev/null)\" ]" &&
	wait_for 10 bash -c "! pgrep -f 'drover-vm[m] --config $T/' > /dev/null"
}
check "kubectl delete vmirs, hpa: gone; no VMI, Pod or VMM left" delete_rs
not_found() {
	k get vmirs lab05-cirros-replicaset > "$T/e" 2>&1
	grep -qx 'Error from server (NotFound): virtualmachineinstancereplicasets.kubevirt.io "lab05-cirros-replicaset" not found' "$T/e" &&
	[ "$(k get vmirs 2>&1)" = "No resources found in alice namespace." ]
}
check "kubectl get of what is gone: NotFound; No resources found in alice namespace." not_found

stop() { kill -TERM "$pid" && wait "$pid"; local st=$?; pid=; [ "$st" = 0 ]; }
check "droverd stops cleanly (status 0, no sanitizer report)" stop
exit $failed
