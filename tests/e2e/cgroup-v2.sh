#!/usr/bin/env bash
# tests/e2e/cgroup-v2.sh: agent/cgroup.c on the node's cgroup v2 tree with
# its controllers (the host's unit_agent_cgroup covers v1 and a cgroup2
# mount without controllers). tests/e2e/cgcheck.c, built static (musl)
# with agent/cgroup.c, runs in the node: kubelet's values in cpu.weight,
# cpu.max, memory.max and pids.max, a child attaching itself, stats, the
# memory limit OOM-killing a child that touches 128 MiB under 32Mi, fork
# refused past pids.max, destroy through cgroup.kill, idempotent destroy.
# Environment: tests/node/lib.sh's.
set -uo pipefail
export NODE_SMP=${NODE_SMP:-1}
. "$(dirname "$0")/../node/lib.sh"
name=e2e-cgroup-$$
failed=0
tmp=$(mktemp -d)
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failed=1; }
finish() {
	if [ "$failed" != 0 ] && [ -f "$(node_dir "$name")/serial.log" ]; then
		echo "--- node serial log (last 20 lines) ---"
		node_log "$name" 20 | sed 's/^/  | /'
	fi
	node_stop_all
	[ "$failed" != 0 ] || rm -rf "$(node_dir "$name")"
	rm -rf "$tmp"
}
trap finish EXIT
node_exit_on_signals

r=$NODE_ROOT
if ! musl-gcc -static -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror \
	-I"$r/agent" -I"$r/common" -o "$tmp/cgcheck" "$r/tests/e2e/cgcheck.c" \
	"$r/agent/cgroup.c" "$r/common/log.c" 2> "$tmp/cc.log"; then
	not_ok "cgroup v2: cgcheck builds static with musl: $(head -n 5 "$tmp/cc.log")"
	exit 1
fi
if ! node_start "$name"; then
	not_ok "cgroup v2: node boots to ready"
	exit 1
fi
if ! node_put "$name" "$tmp/cgcheck" /tmp/cgcheck; then
	not_ok "cgroup v2: cgcheck copied into the node"
	exit 1
fi
node_exec "$name" --timeout 120 -- "/tmp/cgcheck /sys/fs/cgroup" > "$tmp/out" 2> "$tmp/err"
rc=$?
cat "$tmp/out"
grep -q '^not ok' "$tmp/out" && failed=1
if [ "$rc" != 0 ] || ! grep -q '^ok - cgroup v2: parent removed' "$tmp/out"; then
	not_ok "cgroup v2: cgcheck ran to the end (status $rc)"
	sed 's/^/  | /' "$tmp/err" | tail -n 20
fi
exit $failed
