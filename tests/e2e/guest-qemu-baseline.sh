#!/usr/bin/env bash
# tests/e2e/guest-qemu-baseline.sh: the baseline guest boot (foundation
# issue, section 5). Boots the CirrOS guest (build/guest) inside the emulated
# edge node with QEMU (-accel kvm -M q35 -cpu host -m 256 -smp 1), added to
# the node only for this test by tests/node/qemu-baseline.sh's extra initrd,
# with a NoCloud cidata ISO (local-hostname baseline-vm); waits for
# "baseline-vm login:" and reports the time from QEMU's start (node clock).
# Environment: tests/node/lib.sh; BASELINE_APPEND (guest kernel command
# line, default "console=ttyS0"); BASELINE_TIMEOUT (default 300 s).
set -uo pipefail
. "$(dirname "$0")/../node/lib.sh"
name=e2e-baseline-$$
failed=0
tmp=$(mktemp -d)
limit=${BASELINE_TIMEOUT:-300}
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failed=1; }
finish() {
	if [ "$failed" != 0 ]; then
		if [ -f "$tmp/guest-serial.log" ]; then
			echo "--- guest serial log in the node (last 30 lines) ---"
			tail -n 30 "$tmp/guest-serial.log" | tr -d '\r' | sed 's/^/  | /'
		fi
		if [ -f "$(node_dir "$name")/serial.log" ]; then
			echo "--- node serial log (last 30 lines) ---"
			node_log "$name" 30 | sed 's/^/  | /'
		fi
	fi
	node_stop_all
	# A passing run leaves nothing behind; a failing one keeps its run dir.
	[ "$failed" != 0 ] || rm -rf "$(node_dir "$name")"
	rm -rf "$tmp"
}
trap finish EXIT
node_exit_on_signals

for f in vmlinuz initramfs; do
	if [ ! -f "$DROVER_GUESTDIR/$f" ]; then
		not_ok "cirros boots to login in the node with qemu (missing ${DROVER_GUESTDIR#$NODE_ROOT/}/$f: run make guest)"
		exit 1
	fi
done
if ! extra=$("$NODE_ROOT/tests/node/qemu-baseline.sh"); then
	not_ok "baseline QEMU initrd builds"
	exit 1
fi
ok "baseline QEMU initrd builds ($(($(stat -c %s "$extra") / 1024)) KiB)"
if ! node_start "$name" --mem 3G --extra-initrd "$extra"; then
	not_ok "node with baseline QEMU boots"
	exit 1
fi
ok "node with baseline QEMU boots"

if node_exec "$name" --timeout 60 -- "run-guest '${BASELINE_APPEND:-console=ttyS0}'"; then
	ok "qemu starts the guest inside the node"
else
	not_ok "qemu starts the guest inside the node"
	exit 1
fi
res=$(node_exec "$name" --timeout $((limit + 60)) -- "wait-login $limit")
rc=$?
node_get "$name" /tmp/baseline/serial.log "$tmp/guest-serial.log" 2> /dev/null
echo "$res" | sed -n 's/^/# /p' | grep -v '^# $'
if [ "$rc" != 0 ]; then
	not_ok "cirros boots to login in the node with qemu (${res##*$'\n'})"
	exit 1
fi
secs=$(sed -n 's/^login after \([0-9.]*\) s:.*/\1/p' <<< "$res")
ok "cirros boots to login in the node with qemu"
echo "# cirros boot to login inside node (qemu): $secs s"
# Each console byte of the guest is an exit to QEMU's user space in the
# emulated node, the dominant cost of this boot; host load slows TCG down.
echo "# guest console output until login: $(stat -c %s "$tmp/guest-serial.log" 2> /dev/null || echo ?) bytes;" \
	"host load average: $(cut -d' ' -f1-3 /proc/loadavg)"
if grep -q 'baseline-vm login:' <<< "$res"; then
	ok "guest hostname comes from NoCloud meta-data (baseline-vm login:)"
else
	not_ok "guest hostname comes from NoCloud meta-data: got '${res##*: }'"
fi
if grep -q 'datasource: nocloud' "$tmp/guest-serial.log" 2> /dev/null; then
	ok "guest found the NoCloud datasource"
else
	not_ok "guest found the NoCloud datasource"
fi
if grep -q 'baseline user-data ran' "$tmp/guest-serial.log" 2> /dev/null; then
	ok "guest ran the #! user-data"
else
	not_ok "guest ran the #! user-data"
fi
exit $failed
