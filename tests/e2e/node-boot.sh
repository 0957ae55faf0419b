#!/usr/bin/env bash
# tests/e2e/node-boot.sh: the emulated edge node boots; /dev/kvm works inside
# it (kvmcheck: KVM_CREATE_VM, a vCPU runs real-mode out + hlt); commands run
# inside return their output and exit status; put/get round-trip a file
# byte-exactly; droverd is present and runs. TAP-style output, measurements
# as "# ..." lines. Environment: see tests/node/lib.sh (DROVER_NODEDIR,
# DROVER_BINDIR, DROVER_GUESTDIR, NODE_ACCEL, ...).
set -uo pipefail
. "$(dirname "$0")/../node/lib.sh"
name=e2e-boot-$$
failed=0
tmp=$(mktemp -d)
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failed=1; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }
finish() {
	if [ "$failed" != 0 ] && [ -f "$(node_dir "$name")/serial.log" ]; then
		echo "--- node serial log (last 40 lines) ---"
		node_log "$name" 40 | sed 's/^/  | /'
	fi
	node_stop_all
	# A passing run leaves nothing behind; a failing one keeps its run dir.
	[ "$failed" != 0 ] || rm -rf "$(node_dir "$name")"
	rm -rf "$tmp"
}
trap finish EXIT
node_exit_on_signals

t0=$(date +%s.%N)
if ! node_start "$name"; then
	not_ok "node boots to ready"
	exit 1
fi
ok "node boots to ready"
t1=$(date +%s.%N)
echo "# node boot to init: $(node_marker_uptime "$name" 'init start') s (node uptime at /init)"
echo "# node boot to ready: $(node_marker_uptime "$name" ready) s (node uptime)"
d=$(node_dir "$name")
echo "# node wall time to ready: $(awk -v a="$(cat "$d/start_time")" -v b="$(cat "$d/ready_time")" 'BEGIN { printf "%.1f", b - a }') s from QEMU start (QEMU $(cat "$d/accel")); $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s with the image check"
echo "# node image: initramfs $(($(stat -c %s "$DROVER_NODEDIR/initramfs") / 1024)) KiB, vmlinuz $(($(stat -c %s "$DROVER_NODEDIR/vmlinuz") / 1024)) KiB"

# KVM inside the node.
if grep -q 'drover-node: kvm ready' "$(node_dir "$name")/serial.log"; then
	ok "node: kvm-amd gives /dev/kvm"
else
	not_ok "node: kvm-amd gives /dev/kvm: $(grep -o 'kvm missing:.*' "$(node_dir "$name")/serial.log")"
fi
node_exec "$name" --timeout 60 -- kvmcheck > "$tmp/kvm.out" 2>&1
rc=$?
sed -e 's/^ok - /ok - node: /' -e 's/^not ok - /not ok - node: /' "$tmp/kvm.out"
[ "$rc" = 0 ] || not_ok "node: kvmcheck exits 0 (got $rc)"

# Exec service.
out=$(node_exec "$name" -- 'echo hello; echo oops >&2' 2> "$tmp/err")
check "exec: stdout comes back" [ "$out" = hello ]
check "exec: stderr comes back separately" grep -qx oops "$tmp/err"
node_exec "$name" -- 'exit 3'
check "exec: exit status 3 comes back" [ $? = 3 ]
out=$(printf 'abc\n' | node_exec "$name" --stdin -- 'tr a-z A-Z')
check "exec: stdin is passed" [ "$out" = ABC ]
node_exec "$name" --timeout 2 -- 'sleep 60' 2> /dev/null
check "exec: timeout kills the command (124)" [ $? = 124 ]
check "node: hostname is drover-node" [ "$(node_exec "$name" -- hostname)" = drover-node ]
check "node: ip_forward enabled" [ "$(node_exec "$name" -- cat /proc/sys/net/ipv4/ip_forward)" = 1 ]
ctl=$(node_exec "$name" -- cat /sys/fs/cgroup/cgroup.subtree_control)
check "node: cgroup2 with cpu, memory, pids ($ctl)" \
	bash -c '[[ " $1 " == *" cpu "* && " $1 " == *" memory "* && " $1 " == *" pids "* ]]' _ "$ctl"
check "node: eth0 has an address (DHCP)" node_exec "$name" -- 'ip -4 addr show eth0 | grep -q "inet "'

# put/get round trip.
head -c 3000000 /dev/urandom > "$tmp/blob"
printf 'tail\0with\0nul' >> "$tmp/blob"
chmod 0751 "$tmp/blob"
if node_put "$name" "$tmp/blob" /tmp/sub/dir/blob && node_get "$name" /tmp/sub/dir/blob "$tmp/back"; then
	check "put/get: round trip is byte-exact" cmp -s "$tmp/blob" "$tmp/back"
	check "put/get: mode kept (0751)" [ "$(stat -c %a "$tmp/back")" = 751 ]
	remote=$(node_exec "$name" -- 'sha256sum /tmp/sub/dir/blob' | cut -d' ' -f1)
	check "put: remote content matches" [ "$remote" = "$(sha256sum < "$tmp/blob" | cut -d' ' -f1)" ]
else
	not_ok "put/get: transfer"
fi
node_get "$name" /nonexistent "$tmp/none" 2> "$tmp/err"
rc=$?
check "get: missing remote file fails clearly" bash -c '[ "$1" != 0 ] && grep -q "No such file" "$2"' _ "$rc" "$tmp/err"

# droverd.
if [ ! -x "$DROVER_BINDIR/droverd" ]; then
	not_ok "droverd present in the node (missing ${DROVER_BINDIR#$NODE_ROOT/}/droverd: run make static)"
else
	check "droverd present in the node" node_exec "$name" -- 'test -x /usr/bin/droverd'
	if v=$(node_exec "$name" -- '/usr/bin/droverd --version' 2>&1); then
		ok "droverd runs (--version)"
		echo "# droverd --version in the node: $(head -n1 <<< "$v")"
	else
		not_ok "droverd runs (--version): $v"
	fi
	check "droverd was started at boot (/var/log/droverd.log)" node_exec "$name" -- 'test -e /var/log/droverd.log'
	for b in drover-vmm droverctl; do
		check "$b present in the node" node_exec "$name" -- "test -x /usr/bin/$b"
	done
fi
exit $failed
