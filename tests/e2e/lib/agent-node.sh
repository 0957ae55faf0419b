# shellcheck shell=bash
# tests/e2e/lib/agent-node.sh: droverd (the whole agent) in the emulated
# node, for the agent's end-to-end tests (agent-lab.sh). Source it (bash)
# after setting NODE_SMP; it sources tests/e2e/lib/vmm-node.sh (ok, not_ok,
# check, vmm_e2e_need) and so tests/node/lib.sh.
#
#   agent_e2e_init NAME D      the run: $name, $D (its directory in the
#                              node), $tmp (host scratch), $failed, the EXIT
#                              trap (agent_e2e_diag on failure, node stopped)
#   agent_e2e_root JSON        $tmp/root: /etc/drover/droverd.json (JSON, the
#                              agent config) and droverd.args, so that the
#                              node's /init starts droverd with it, and
#                              /usr/bin/agent-lab (tests/node/e2e); add files
#                              under $tmp/root, then vmm_e2e_pack
#   agent_e2e_node_up          boot the node with $tmp/extra.cpio.gz and wait
#                              for droverd's local API (1: the node did not
#                              boot, 2: droverd did not answer)
#   ctl ARGS...                droverctl ARGS... in the node (the local socket)
#   ctl_json ARGS...           the same with -o json (stdout only)
#   nx CMD                     a shell command line in the node
#   up                         the node's uptime (s)
#   wait_until SECS STEP CMD...  run CMD every STEP s until it succeeds
#                              (0) or SECS passed (1)
#   since T                    seconds of node time since uptime T ("%.0f")
#   agent_e2e_diag             droverd's log, the VMIs, the consoles' tails,
#                              the node's serial log
# Environment: tests/node/lib.sh's.

. "$(dirname "${BASH_SOURCE[0]}")/vmm-node.sh"

agent_e2e_init() {
	name=$1 D=$2
	failed=0
	tmp=$(mktemp -d)
	trap agent_e2e_finish EXIT
	node_exit_on_signals
}

agent_e2e_diag() {
	local f
	echo "--- droverd log (last 30 lines) ---"
	nx 'tail -n 30 /var/log/droverd.log' 2>&1 | sed 's/^/  | /'
	echo "--- VMIs, VMMs, disk dirs ---"
	nx 'droverctl get vmi -A; pidof drover-vmm; ls -R /run/drover/vmi /var/lib/drover/ephemeral' 2>&1 |
		sed 's/^/  | /'
	for f in $(nx "ls $D/*.con 2> /dev/null" 2> /dev/null); do
		echo "--- console $f (last 15 lines) ---"
		nx "tail -n 15 $f" 2>&1 | tr -d '\r' | sed 's/^/  | /'
	done
	echo "--- node serial log (last 15 lines) ---"
	node_log "$name" 15 | sed 's/^/  | /'
}

agent_e2e_finish() {
	if [ "$failed" != 0 ] && node_alive "$name"; then
		agent_e2e_diag
	fi
	node_stop_all
	[ "$failed" != 0 ] || rm -rf "$(node_dir "$name")"
	rm -rf "$tmp"
}

agent_e2e_root() {
	mkdir -p "$tmp/root/usr/bin" "$tmp/root/etc/drover" "$tmp/root/opt/e2e"
	install -m 0755 "$NODE_ROOT/tests/node/e2e/agent-lab" "$tmp/root/usr/bin/"
	printf '%s\n' "$1" > "$tmp/root/etc/drover/droverd.json"
	echo "--config /etc/drover/droverd.json" > "$tmp/root/etc/drover/droverd.args"
}

nx() { node_exec "$name" --timeout 120 -- "$@"; }
ctl() { node_exec "$name" --timeout 60 -- "droverctl $*"; }
ctl_json() { node_exec "$name" --timeout 60 -- "droverctl $* -o json" 2> /dev/null; }
up() { node_exec "$name" -- 'cut -d" " -f1 /proc/uptime'; }
since() { awk -v a="$1" -v b="$(up)" 'BEGIN { printf "%.0f", b - a }'; }

wait_until() {
	local end=$(($(date +%s) + $1)) step=$2
	shift 2
	while :; do
		"$@" && return 0
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep "$step"
	done
}

agent_e2e_node_up() {
	node_start "$name" --extra-initrd "$tmp/extra.cpio.gz" || return 1
	wait_until 120 2 ctl get ns > /dev/null 2>&1 || return 2
}
