#!/usr/bin/env bash
# tests/agent/droverd-api.sh BUILD (e.g. build/asan): droverd's skeleton on
# the bare host, as the current user, the VMI runtime off (but for one
# check with every module on): the local API socket through droverctl
# (apply/get/scale/delete as kubectl prints them), admission refusals, the
# replica set controller creating VMIs, namespaces, the --manifests
# directory (apply, update, prune, bad files), the protocol's limits, peer
# credentials, a kill -9 and restart, a damaged store file, --config.
set -uo pipefail
build=${1:-build/asan}
bin=$build/bin
lab=${DROVER_LAB:-/work/shared/lab}
[ -d "$lab" ] || lab=$(cd "$(dirname "$0")/../.." && pwd)/../shared/lab
T=$(mktemp -d /tmp/droverd-api.XXXXXX)
chmod 711 "$T"	# droverd-api (unprivileged) reaches its state and run dirs
sock=$T/d.sock
pid=
failed=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

ok() { echo "ok - $1"; }
nok() { echo "not ok - $1"; failed=1; }
check() { # check NAME COMMAND...
	local name=$1; shift
	if "$@"; then ok "$name"; else nok "$name"; fi
}
ctl() { "$bin/droverctl" --socket "$sock" "$@"; }
ctlq() { ctl "$@" >/dev/null; }
start() { # start [extra droverd flags]
	"$bin/droverd" --state-dir "$T/state" --run-dir "$T/run" \
		--socket "$sock" --no-runtime --manifests "$T/manifests" \
		--log-level debug "$@" >>"$T/droverd.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		ctl get ns >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
stop() {
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
	local rc=$?
	pid=
	return $rc
}
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	if [ $failed -ne 0 ]; then
		echo "# droverd log (last 40 lines):"
		tail -n 40 "$T/droverd.log" | sed 's/^/# /'
	fi
	rm -rf "$T"
}
trap cleanup EXIT
# wait_for SECONDS COMMAND...: poll until COMMAND succeeds.
wait_for() {
	local n=$(( $1 * 10 )); shift
	for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}

if [ ! -x "$bin/droverd" ] || [ ! -x "$bin/droverctl" ]; then
	echo "not ok - droverd and droverctl are built in $bin"
	exit 1
fi
if [ ! -f "$lab/vmirs_lab05-cirros.yaml" ]; then
	echo "ok - SKIP the lab's manifests are not in $lab"
	exit 0
fi
mkdir -p "$T/manifests"

if start; then ok "droverd starts and answers on its socket"; else
	nok "droverd starts and answers on its socket"
	exit 1
fi
check "the socket is mode 0600" \
	test "$(stat -c %a "$sock")" = 600
check "the default namespace exists" \
	bash -c "'$bin/droverctl' --socket '$sock' get ns default -o name | grep -qx namespace/default"

# ---- apply, get, unchanged ---------------------------------------------------
out=$(ctl apply -f "$lab/vmirs_lab05-cirros.yaml" 2>&1)
check "apply the lab's VMIRS verbatim: created" \
	test "$out" = "virtualmachineinstancereplicaset.kubevirt.io/lab05-cirros-replicaset created"
out=$(ctl get vmirs 2>&1)
check "get vmirs: kubectl's columns" \
	grep -Eq '^NAME +DESIRED +CURRENT +READY +AGE$' <<< "$out"
check "get vmirs: the replica set, 2 desired" \
	grep -Eq '^lab05-cirros-replicaset +2 ' <<< "$out"
out=$(ctl apply -f "$lab/vmirs_lab05-cirros.yaml" 2>&1)
check "apply again: unchanged" \
	test "$out" = "virtualmachineinstancereplicaset.kubevirt.io/lab05-cirros-replicaset unchanged"
out=$(ctl get virtualmachineinstancereplicasets lab05-cirros-replicaset -o json)
check "get -o json: the stored object with uid and last-applied-configuration" \
	bash -c 'grep -q "\"uid\": " <<< "$0" && grep -q "last-applied-configuration" <<< "$0"' "$out"

# ---- the controller ------------------------------------------------------------
vmi_names() { ctl get vmi -o name 2>/dev/null; }
two_vmis() { [ "$(vmi_names | grep -Ec '^virtualmachineinstance\.kubevirt\.io/lab05-cirros-replicaset[bcdfghjklmnpqrstvwxz2456789]{5}$')" = 2 ]; }
check "the controller creates 2 VMIs named lab05-cirros-replicasetXXXXX" \
	wait_for 10 two_vmis
out=$(ctl get vmi 2>&1)
check "get vmi: kubectl's columns" \
	grep -Eq '^NAME +AGE +PHASE +IP +NODENAME +READY$' <<< "$out"

# ---- admission ----------------------------------------------------------------------
sed '9s|kubevirt.io/domain: lab05-cirros$|kubevirt.io/domain: other|; s/name: lab05-cirros-replicaset/name: bad-rs/' \
	"$lab/vmirs_lab05-cirros.yaml" > "$T/bad.yaml"
out=$(ctl apply -f "$T/bad.yaml" 2>&1); rc=$?
check "a selector that does not match the labels: KubeVirt's message, exit 1" \
	bash -c '[ $1 = 1 ] && grep -qF "Error from server (Invalid): error when creating \"$2\": admission webhook \"virtualmachinereplicaset-validator.kubevirt.io\" denied the request: selector does not match labels." <<< "$0"' \
	"$out" "$rc" "$T/bad.yaml"
out=$(ctl get vmirs bad-rs 2>&1); rc=$?
check "the refused VMIRS is not stored" \
	bash -c '[ $1 = 1 ] && grep -qF "virtualmachineinstancereplicasets.kubevirt.io \"bad-rs\" not found" <<< "$0"' "$out" "$rc"
sed 's/^spec:$/spec:\n  foo: 1/' "$lab/vmirs_lab05-cirros.yaml" > "$T/unknown.yaml"
out=$(ctl apply -f "$T/unknown.yaml" 2>&1)
check "an unknown field is refused (strict decoding), the object unchanged" \
	bash -c 'grep -qF "strict decoding error: unknown field \"spec.foo\"" <<< "$0" && grep -qF "error when patching" <<< "$0"' "$out"

# ---- scale, namespaces, delete ----------------------------------------------------
out=$(ctl scale vmirs lab05-cirros-replicaset --replicas 1 2>&1)
check "scale: scaled" \
	test "$out" = "virtualmachineinstancereplicaset.kubevirt.io/lab05-cirros-replicaset scaled"
one_vmi() { [ "$(vmi_names | wc -l)" = 1 ]; }
check "scaled to 1: one VMI left" wait_for 10 one_vmi
out=$(ctl apply -f "$lab/vmirs_lab05-cirros.yaml" 2>&1)
check "apply after scale: configured (replicas back to 2)" \
	test "$out" = "virtualmachineinstancereplicaset.kubevirt.io/lab05-cirros-replicaset configured"
out=$(ctl apply -n labns -f "$lab/vmirs_lab05-cirros.yaml" 2>&1)
check "apply -n labns: created there" \
	test "$out" = "virtualmachineinstancereplicaset.kubevirt.io/lab05-cirros-replicaset created"
check "a new namespace gets its Namespace object" \
	bash -c "'$bin/droverctl' --socket '$sock' get ns labns | grep -Eq '^labns +Active '"
out=$(ctl delete vmirs lab05-cirros-replicaset -n labns 2>&1)
check "delete: deleted" \
	test "$out" = "virtualmachineinstancereplicaset.kubevirt.io \"lab05-cirros-replicaset\" deleted"
no_labns_vmi() { [ -z "$(ctl get vmi -n labns -o name 2>/dev/null)" ]; }
check "delete: its VMIs go too (cascade)" wait_for 10 no_labns_vmi

out=$(ctl delete ns default 2>&1)
check "the default namespace cannot be deleted" \
	grep -qF 'Error from server (Forbidden): namespaces "default" is forbidden: this namespace may not be deleted' <<< "$out"
ctlq apply -n gone -f "$lab/vmirs_lab05-cirros.yaml"
out=$(ctl delete ns gone 2>&1)
check "delete ns: deleted" test "$out" = 'namespace "gone" deleted'
check "delete ns: what it held is gone" \
	bash -c '[ -z "$("$0" --socket "$1" get vmirs -n gone -o name 2>&1)" ] && [ -z "$("$0" --socket "$1" get vmi -n gone -o name 2>&1)" ]' "$bin/droverctl" "$sock"

# ---- the protocol -----------------------------------------------------------------------
if command -v python3 >/dev/null; then
	out=$(python3 - "$sock" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rwb")
def call(line):
    f.write(line + b"\n"); f.flush()
    return json.loads(f.readline())
r = call(b'{"op":"list","kind":"vmirss"}')
print("list", len(r["items"]), r["resourceVersion"].isdigit())
r = call(b'{"op":"nope"}'); print("unknown", r["error"]["code"])
r = call(b'not json'); print("bad", r["error"]["code"])
r = call(b'{"op":"get","kind":"vmis","name":"x"}'); print("get", r["error"]["code"])
# A line over 4 MiB: 413, then the connection is closed.
# (droverd may answer and close before it has read everything: the rest
# of the write then fails, and the answer is still there to read.)
try:
    f.write(b'{"op":"ping","pad":"' + b"x" * (4 << 20) + b'"}\n'); f.flush()
except (BrokenPipeError, ConnectionResetError):
    pass
r = json.loads(s.makefile("rb").readline()); print("long", r["error"]["code"])
try:
    print("closed", s.recv(1) == b"")
except ConnectionResetError:
    print("closed", True)
EOF
)
	check "protocol: list by short name, unknown op 404, bad JSON 400, NotFound 404" \
		bash -c 'grep -qx "list 1 True" <<< "$0" && grep -qx "unknown 404" <<< "$0" && grep -qx "bad 400" <<< "$0" && grep -qx "get 404" <<< "$0"' "$out"
	check "protocol: a line over 4 MiB gets 413 and the connection is closed" \
		bash -c 'grep -qx "long 413" <<< "$0" && grep -qx "closed True" <<< "$0"' "$out"
	check "droverd still answers after that" ctlq get ns default
else
	echo "ok - SKIP protocol checks (no python3)"
fi
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	chmod 0755 "$T"; chmod 0666 "$sock"
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$bin/droverctl" --socket "$sock" get ns 2>&1)
	chmod 0600 "$sock"; chmod 0711 "$T"
	check "a peer that is neither root nor droverd's user is refused" \
		grep -q "Error from server (Forbidden)" <<< "$out"
else
	echo "ok - SKIP peer credentials (not root, or no setpriv)"
fi

# ---- --manifests DIR ----------------------------------------------------------------------
mrs() { # mrs NAME REPLICAS: a small VMIRS manifest
	cat <<EOF
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstanceReplicaSet
metadata:
  name: $1
spec:
  replicas: $2
  selector:
    matchLabels:
      app: $1
  template:
    metadata:
      labels:
        app: $1
    spec:
      domain:
        devices: {}
        resources:
          requests:
            memory: 64Mi
EOF
}
has() { ctl get vmirs "$1" >/dev/null 2>&1; }
gone() { ! ctl get vmirs "$1" >/dev/null 2>&1; }
replicas_is() { ctl get vmirs "$1" 2>/dev/null | grep -Eq "^$1 +$2 "; }
{ mrs m-one 1; echo "---"; mrs m-two 1; } > "$T/manifests/a.yaml"
check "manifests: a new file is applied (2 objects)" \
	wait_for 5 bash -c "'$bin/droverctl' --socket '$sock' get vmirs m-one >/dev/null 2>&1 && '$bin/droverctl' --socket '$sock' get vmirs m-two >/dev/null 2>&1"
check "manifests: objects carry drover.dev/manifest-file" \
	bash -c "'$bin/droverctl' --socket '$sock' get vmirs m-one -o yaml | grep -q 'drover.dev/manifest-file: a.yaml'"
{ mrs m-one 3; echo "---"; mrs m-two 1; } > "$T/manifests/a.yaml.tmp"
mv "$T/manifests/a.yaml.tmp" "$T/manifests/a.yaml"
check "manifests: a changed file updates its objects" wait_for 5 replicas_is m-one 3
mrs m-one 3 > "$T/manifests/a.yaml"
check "manifests: an object removed from its file is pruned" wait_for 5 gone m-two
check "manifests: ... and the other stays" has m-one
sed '9s/app: m-bad/app: other/' <(mrs m-bad 1) > "$T/manifests/b.yaml"
mrs m-three 1 > "$T/manifests/c.yml"
check "manifests: a bad file does not stop the others" wait_for 5 has m-three
check "manifests: the bad file is logged with its name and the admission message" \
	wait_for 5 grep -q "b.yaml: VirtualMachineInstanceReplicaSet m-bad: admission webhook \"virtualmachinereplicaset-validator.kubevirt.io\" denied the request: selector does not match labels." "$T/droverd.log"
check "manifests: the refused object is not stored" gone m-bad
echo "spec: [" > "$T/manifests/a.yaml"
sleep 1
check "manifests: a file that became invalid keeps its objects" has m-one
check "manifests: ... and its syntax error is logged with the file name" \
	grep -q "a.yaml: error converting YAML to JSON" "$T/droverd.log"
rm -f "$T/manifests/a.yaml"
check "manifests: a removed file's objects are pruned" wait_for 5 gone m-one
out=$(ctl apply -f "$lab/vmirs_lab05-cirros.yaml" -n plain 2>&1)
rm -f "$T/manifests/c.yml"
wait_for 5 gone m-three
check "manifests: objects applied by hand are never pruned" \
	ctlq get vmirs lab05-cirros-replicaset -n plain

# ---- kill -9 and restart -----------------------------------------------------------
mrs m-four 1 > "$T/manifests/d.yaml"
wait_for 5 has m-four
kill -9 "$pid"; wait "$pid" 2>/dev/null; pid=
check "after kill -9, droverd starts again (stale socket replaced)" start
check "after the restart the objects are all there" \
	bash -c "'$bin/droverctl' --socket '$sock' get vmirs lab05-cirros-replicaset >/dev/null && '$bin/droverctl' --socket '$sock' get vmirs m-four >/dev/null && '$bin/droverctl' --socket '$sock' get vmirs lab05-cirros-replicaset -n plain >/dev/null"
check "after the restart the VMIs are there" two_vmis
out=$(ctl apply -f "$lab/vmirs_lab05-cirros.yaml" 2>&1)
check "after the restart apply is still unchanged" \
	test "$out" = "virtualmachineinstancereplicaset.kubevirt.io/lab05-cirros-replicaset unchanged"
"$bin/droverd" --state-dir "$T/state2" --run-dir "$T/run" --socket "$sock" \
	--no-runtime >"$T/second.log" 2>&1
rc=$?
check "a second droverd on the same socket refuses to start" \
	bash -c '[ $1 = 1 ] && grep -q "another droverd is listening" "$0"' "$T/second.log" "$rc"
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
check "SIGTERM: droverd stops cleanly (exit 0, no sanitizer report)" test $rc = 0
check "SIGTERM: the socket is removed" test ! -e "$sock"

rm -f "$T/manifests/d.yaml"
if start; then
	check "a manifest removed while droverd was down is pruned at start-up" gone m-four
	stop
else
	nok "droverd starts a third time"
fi

# ---- a damaged store file ----------------------------------------------------------------
f=$(find "$T/state/objects/VirtualMachineInstanceReplicaSet" -type f -name 'lab05-cirros-replicaset*' | head -n1)
if [ -n "$f" ]; then
	printf '{"kind": "VirtualMachineInstanceReplicaSet", "meta' > "$f"
	"$bin/droverd" --state-dir "$T/state" --run-dir "$T/run" --socket "$sock" \
		--no-runtime >"$T/damaged.log" 2>&1
	rc=$?
	check "a damaged store file: droverd refuses to start (exit 1)" test $rc = 1
	check "a damaged store file: the message names the file" \
		grep -qF "$f" "$T/damaged.log"
	check "a damaged store file: it is not removed" test -s "$f"
else
	nok "the store holds a file for the replica set"
fi
# ---- the command lines ----------------------------------------------------------------
out=$("$bin/droverd" --config /nonexistent.json 2>&1); rc=$?
check "droverd --config with a missing file: exit 2, named" \
	bash -c '[ $1 = 2 ] && grep -q "/nonexistent.json" <<< "$0"' "$out" "$rc"
echo '{"state-dir": "/x", "bogus": 1}' > "$T/conf.json"
out=$("$bin/droverd" --config "$T/conf.json" 2>&1); rc=$?
check "droverd --config with an unknown key: exit 2, the key named" \
	bash -c '[ $1 = 2 ] && grep -q "unknown key \"bogus\"" <<< "$0"' "$out" "$rc"
cat > "$T/conf.json" <<EOF
{"state-dir": "$T/cstate", "socket": "$T/c1.sock", "run-dir": "$T/run",
 "runtime": false, "log-level": "debug", "reserve": {"cpu": "500m", "memory": "512Mi"}}
EOF
"$bin/droverd" --config "$T/conf.json" --socket "$T/c2.sock" >"$T/conf.log" 2>&1 &
cpid=$!
csock() { "$bin/droverctl" --socket "$T/c2.sock" get ns >/dev/null 2>&1; }
wait_for 10 csock
out=$("$bin/droverctl" --socket "$T/c2.sock" apply -f - < "$lab/vmirs_lab05-cirros.yaml" 2>&1)
check "droverd --config FILE: its keys are used, flags override them; apply -f -" \
	bash -c '[ -d "$1/cstate/objects" ] && [ ! -e "$1/c1.sock" ] && grep -q " debug: " "$1/conf.log" && [ "$0" = "virtualmachineinstancereplicaset.kubevirt.io/lab05-cirros-replicaset created" ]' "$out" "$T"
out=$("$bin/droverctl" --socket "$T/c2.sock" apply -f "$lab" 2>&1)
check "apply -f DIR: every manifest in it, in name order" \
	test "$out" = "horizontalpodautoscaler.autoscaling/lab05-cirros-replicaset created
virtualmachineinstancereplicaset.kubevirt.io/lab05-cirros-replicaset unchanged"
kill -TERM $cpid; wait $cpid
# Every module, the VMI runtime too (no cgroups; the lab's image is not in
# the store, so nothing is launched): droverd starts, the runtime writes
# the Node, the VMIs are taken in hand, SIGTERM stops it cleanly.
"$bin/droverd" --state-dir "$T/rtstate" --run-dir "$T/rtrun" --socket "$T/rt.sock" \
	--cgroup-root "" --vmm "$bin/drover-vmm" >"$T/rt.log" 2>&1 &
rpid=$!
rtctl() { "$bin/droverctl" --socket "$T/rt.sock" "$@"; }
rtnode() { rtctl get nodes 2>/dev/null | grep -Eq ' Ready '; }
check "droverd with the runtime: the Node is Ready" wait_for 10 rtnode
rtctl apply -f "$lab/vmirs_lab05-cirros.yaml" >/dev/null 2>&1
rtvmis() { [ "$(rtctl get vmi 2>/dev/null | grep -Ec '^lab05-cirros-replicaset[a-z0-9]{5} +[0-9a-z]+ +[A-Za-z]+')" = 2 ]; }
check "droverd with the runtime: 2 VMIs with a phase" wait_for 10 rtvmis
kill -TERM $rpid; wait $rpid; rc=$?
check "droverd with the runtime: SIGTERM, exit 0" test $rc = 0
out=$("$bin/droverctl" --socket "$T/none.sock" get vmirs 2>&1); rc=$?
check "droverctl without droverd: exit 1, says so" \
	bash -c '[ $1 = 1 ] && grep -q "cannot connect to droverd" <<< "$0"' "$out" "$rc"
exit $failed
