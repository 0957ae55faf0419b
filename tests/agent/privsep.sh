#!/usr/bin/env bash
# tests/agent/privsep.sh BUILD (e.g. build/asan): droverd's privilege
# separation on the bare host. droverd started as root is two processes:
# droverd-priv (root, the parent) and droverd-api (the configured "user",
# here a numeric uid that is neither root nor the VMMs' user: no
# capabilities, NoNewPrivs, no /dev/kvm fd, no tap); a VMI (the PVH test
# payload as a containerDisk) still runs through kubectl over mTLS, its
# drover-vmm a child of droverd-priv; the API process reaches the VMM's
# console and control sockets only through its group. Killing droverd-api
# is noticed by droverd-priv, which exits (status 1) and leaves the VMM
# running; the next droverd adopts it. SIGTERM stops both cleanly. The
# VMM reads droverd-priv's checked copy of vm.json, its backing file an fd
# droverd-priv opened. (The messages and requests droverd-priv refuses,
# hostile backing files and vm.json among them, are unit_agent_privmsg's
# and fuzz_privmsg's: this script cannot speak for droverd-api on its
# socketpair.) Root and /dev/kvm; about 15 s.
set -uo pipefail
build=${1:-build/asan}
bin=$build/bin
payload=$build/tests/payloads/pvh.elf
NAME=privsep
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/agent/lib.sh
. "$here/lib.sh"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
pid=

for f in "$bin/droverd" "$bin/droverctl" "$bin/drover-vmm" "$payload"; do
	[ -e "$f" ] || { nok "$f built"; exit 1; }
done
if [ "$(id -u)" != 0 ] || [ ! -w /dev/kvm ] || ! command -v mke2fs > /dev/null ||
	! command -v kubectl > /dev/null; then
	echo "ok - privsep # SKIP needs root, /dev/kvm, mke2fs and kubectl"
	exit 0
fi

agent_tmp privsep
# droverd-api's user: a uid:gid no account has (nothing else runs as it).
api_uid=$(( 61000 + RANDOM % 3000 ))
cgp=drover-ps-$$
sock=$T/run/droverd.sock
port=$(( 20000 + RANDOM % 20000 ))
url=https://127.0.0.1:$port
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	agent_kill_vmms
	rmdir /sys/fs/cgroup/*/"$cgp"/* /sys/fs/cgroup/*/"$cgp" 2>/dev/null
	if [ $failed -ne 0 ]; then
		echo "# droverd log (last 30 lines):"
		tail -n 30 "$T/droverd.log" | sed 's/^/# /'
	fi
	[ -n "${KEEP:-}" ] && echo "# kept $T" || rm -rf "$T"
}
trap cleanup EXIT

agent_pki "$url" "admin --group system:masters" ||
	{ nok "droverctl certs init/user/kubeconfig"; exit 1; }
agent_payload_disk "$payload"
cat > "$T/droverd.json" <<EOF
{"state-dir": "$T/state", "run-dir": "$T/run", "node-name": "edge1",
 "vmm": "$bin/drover-vmm", "listen": "127.0.0.1:$port",
 "user": "$api_uid:$api_uid",
 "tls": {"cert": "$P/server.crt", "key": "$P/server.key", "client-ca": "$P/ca.crt"},
 "cgroup-root": "/sys/fs/cgroup", "cgroup-parent": "$cgp",
 "vmm-user": "65534:65534", "poll-ms": 200,
 "images": {"preloaded": {"quay.io/kubevirt/cirros-container-disk-demo": "$T/disk.raw"}}}
EOF
cat > "$T/vmi.yaml" <<'EOF'
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata:
  name: ps1
  namespace: default
spec:
  domain:
    devices:
      disks:
        - name: containerdisk
          disk:
            bus: virtio
    resources:
      requests:
        memory: 64Mi
  volumes:
    - name: containerdisk
      containerDisk:
        image: quay.io/kubevirt/cirros-container-disk-demo
EOF
k() { kubectl --kubeconfig "$T/kc-admin" --cache-dir "$T/kcache" "$@"; }
ctl() { "$bin/droverctl" --socket "$sock" "$@"; }
start() {
	"$bin/droverd" --config "$T/droverd.json" --log-level info >> "$T/droverd.log" 2>&1 &
	pid=$!
	wait_for 20 bash -c "kubectl --kubeconfig '$T/kc-admin' --cache-dir '$T/kcache' get --raw /version > /dev/null 2>&1"
}
api_pid() { pgrep -P "$pid" -x droverd-api; }
status() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
vmm_pid() { pgrep -f "drover-vmm --config $T/run/vmi/default/ps1/" | head -n 1; }
phase() { k get vmi ps1 -o jsonpath='{.status.phase}' 2>/dev/null; }
is_running() { [ "$(phase)" = Running ]; }

check "droverd starts as root and serves the mTLS API" start
api=$(api_pid)
two() {
	[ -n "$api" ] && [ "$(cat /proc/$pid/comm)" = droverd-priv ] &&
	[ "$(status "$pid" Uid)" = 0 ] && [ "$(pgrep -P "$pid" -c -x droverd-api)" = 1 ]
}
check "two processes: droverd-priv (root) and its child droverd-api" two
check "droverd-api runs as the configured uid and gid, not root" \
	bash -c '[ "$(awk "\$1 == \"Uid:\" {print \$2 \$3 \$4 \$5}" /proc/'"$api"'/status)" = "'"$api_uid$api_uid$api_uid$api_uid"'" ] &&
		[ "$(awk "\$1 == \"Gid:\" {print \$2}" /proc/'"$api"'/status)" = '"$api_uid"' ]'
check "droverd-api: no supplementary groups" \
	bash -c '[ -z "$(awk "\$1 == \"Groups:\" {print \$2}" /proc/'"$api"'/status)" ]'
check "droverd-api: CapEff, CapPrm, CapBnd 0" \
	bash -c '[ "$(awk "/^Cap(Eff|Prm|Bnd):/ {print \$2}" /proc/'"$api"'/status | sort -u)" = 0000000000000000 ]'
check "droverd-api: NoNewPrivs 1" test "$(status "$api" NoNewPrivs)" = 1

# A VMI through kubectl.
check "kubectl apply of a VMI" k apply -f "$T/vmi.yaml"
check "the VMI is Running" wait_for 30 is_running
vmm=$(vmm_pid)
check "its drover-vmm is droverd-priv's child" \
	test -n "$vmm" -a "$(ps -o ppid= -p "${vmm:-1}" | tr -d ' ')" = "$pid"
nokvm() { ! ls -l "/proc/$api/fd" 2>/dev/null | grep -Eq '/dev/kvm|/dev/net/tun|kvm-vm'; }
check "droverd-api holds no /dev/kvm, VM or tap fd" nokvm
# The API's grant: the run dir's group, the sockets 0660 for it.
grants() {
	local d=$T/run/vmi/default/ps1
	[ "$(stat -c '%U:%g %a' "$d")" = "root:$api_uid 750" ] &&
	[ "$(stat -c '%U:%g %a' "$d/control.sock")" = "root:$api_uid 660" ] &&
	[ "$(stat -c '%U:%g %a' "$d/console.sock")" = "root:$api_uid 660" ] &&
	[ "$(stat -c '%g %a' "$d/state.json")" = "$api_uid 640" ] &&
	[ "$(stat -c '%u %a' "$T/state/objects")" = "$api_uid 700" ] &&
	[ "$(stat -c '%U %a' "$T/state/ephemeral")" = "root 700" ]
}
check "grants: run dir root:API-gid 0750, sockets 0660, state.json 0640, store the API's, disks root's" grants
# The VMM's config is droverd-priv's checked copy of vm.json: its backing
# file is the fd droverd-priv opened (the pre-loaded disk), no path.
backingfd() {
	local d=$T/run/vmi/default/ps1
	[ "$(jq -r '.disk[0].backing' "$d/vm.json")" = "$T/disk.raw" ] &&
	[ "$(jq -r '.disk[0].backing' "$d/vmm.json")" = /proc/self/fd/4 ] &&
	[ "$(readlink "/proc/$vmm/fd/4")" = "$T/disk.raw" ] &&
	tr '\0' ' ' < "/proc/$vmm/cmdline" | grep -q -- "--config $d/vmm.json"
}
check "the VMM reads droverd-priv's vmm.json: its backing file is fd 4, opened by droverd-priv" backingfd
check "the local API still serves root (droverctl)" bash -c "'$bin/droverctl' --socket '$sock' get vmi ps1 | grep -q Running"

# droverd-api killed: droverd-priv notices and exits; the VMM runs on.
kill -9 "$api"
priv_gone() { ! kill -0 "$pid" 2>/dev/null; }
check "droverd-priv notices droverd-api's death and exits" wait_for 10 priv_gone
wait "$pid"; rc=$?
check "... with status 1, saying why" \
	bash -c "[ $rc = 1 ] && grep -q 'droverd-api (pid $api) was killed by signal 9' '$T/droverd.log'"
check "the VMM is still running" kill -0 "$vmm"
check "droverd restarts" start
adopted() { is_running && [ "$(vmm_pid)" = "$vmm" ]; }
check "the restarted droverd adopts the VMM (same pid, Running)" wait_for 20 adopted

# Deleted through the API: stopped, cleaned up by droverd-priv.
check "kubectl delete vmi" k delete vmi ps1 --timeout=60s
gone() { [ -z "$(vmm_pid)" ] && [ ! -e "$T/run/vmi/default/ps1" ]; }
check "the VMM and its run dir are gone" wait_for 20 gone

api=$(api_pid)
kill "$pid"
wait "$pid"; rc=$?
pid=
check "SIGTERM: both stop cleanly (status 0, no leaks)" test "$rc" = 0
check "... droverd-api is gone too, the local socket removed" \
	bash -c "! kill -0 '$api' 2>/dev/null && [ ! -e '$sock' ]"
exit $failed
