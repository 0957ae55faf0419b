# tests/e2e/lib/vmm-node.sh: what the drover-vmm end-to-end tests in the
# emulated node share (vmm-cirros.sh, vmm-diskboot.sh). Source it (bash)
# after setting NODE_SMP; it sources tests/node/lib.sh.
#
#   vmm_e2e_init NAME D        the run: $name, $D (its directory in the
#                              node), $tmp (host scratch), $failed, the EXIT
#                              trap (diagnostics on failure, node stopped)
#   ok / not_ok / check NAME CMD...   TAP lines; not_ok sets $failed
#   vmm_e2e_need FILE...       each must exist on the host, else not ok
#   vmm_e2e_seed HOST LINE     $tmp/root: /usr/bin/vmm-guest and the NoCloud
#                              seed /opt/e2e/cidata.iso (hostname HOST, a #!
#                              user-data script that echoes LINE); packed
#                              into $tmp/extra.cpio.gz by vmm_e2e_pack
#   vmm_e2e_pack               node_cpio $tmp/root (after adding files)
#   vmm_e2e_boot ARGS...       vmm_e2e_attempt ARGS..., retried once in a
#                              fresh node; exits (not ok) when both fail
#   vmm_e2e_node_up            start the node unless it runs, with the tap
#                              dtap0 and udhcpd on 192.168.77.1/24 (2: the
#                              node did not boot, 3: the tap or udhcpd)
#   vmm_e2e_attempt ARGS...    vmm_e2e_node_up, run $VMM_E2E_PREP (a node
#                              command line, if set), then "vmm-guest start
#                              $D drover-vmm ARGS...", then the console
#                              session ${steps[@]} (tests/node/vmmcon.c,
#                              first step "timeout:$limit") into
#                              $tmp/session.txt and $tmp/console.log; $t0/$t1
#                              the node's uptime around it; node_watch stops
#                              it early (5) on a hung node, node kernel
#                              trouble or a console silent for 240 s
#   vmm_e2e_val KEY            the value of the first "KEY:..." line of the
#                              session
#   vmm_e2e_vmm_args           the arguments both tests give drover-vmm:
#                              NIC on dtap0, console/control sockets and log,
#                              --user 65534:65534, seccomp on
#   vmm_e2e_check_sandbox      the running VMM is uid/gid 65534 with seccomp
#   vmm_e2e_stop               "stop" on the control socket; the guest must
#                              shut down and the VMM exit with status 0
# Environment: tests/node/lib.sh's.

. "$(dirname "${BASH_SOURCE[0]}")/../../node/lib.sh"

VMM_E2E_MAC=52:54:00:12:34:56
# A node shell snippet printing the running VMM's pid. busybox pidof also
# names drover-vmm's reaper (vmm/reaper.c: the same executable, comm
# "vmm-reaper"), and the node's busybox has no pgrep: filter by comm.
# shellcheck disable=SC2016
VMM_E2E_PID='$(for p in $(pidof drover-vmm); do [ "$(cat /proc/$p/comm)" = drover-vmm ] && echo $p; done)'

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failed=1; }
check() { local n=$1; shift; if "$@"; then ok "$n"; else not_ok "$n"; fi; }

vmm_e2e_diag() {
	node_get "$name" "$D/console.log" "$tmp/console.log" 2> /dev/null
	echo "--- guest console (last 40 lines) ---"
	tail -n 40 "$tmp/console.log" 2> /dev/null | tr -d '\r' | sed 's/^/  | /'
	echo "--- drover-vmm control status (exit counters per vCPU) ---"
	node_exec "$name" --timeout 15 -- "vmmcon -t 5 unix:$D/control.sock 'send:status\\n' drain:500" 2>&1 |
		sed 's/^/  | /'
	echo
	echo "--- drover-vmm output (last 20 lines) ---"
	node_exec "$name" -- "tail -n 20 $D/vmm.log" 2>&1 | sed 's/^/  | /'
	echo "--- node serial log (last 20 lines) ---"
	node_log "$name" 20 | sed 's/^/  | /'
}

vmm_e2e_finish() {
	local n
	n=$(grep -a -c -E 'BUG: soft lockup|rcu: INFO: rcu_.* stall' "$(node_dir "$name")/serial.log" 2> /dev/null)
	[ "${n:-0}" = 0 ] || echo "# node kernel: $n soft lockup / RCU stall reports (first: $(node_trouble "$name"))"
	if [ "$failed" != 0 ] && node_alive "$name"; then
		vmm_e2e_diag
	fi
	node_exec "$name" --timeout 10 -- "vmm-guest stop $D" > /dev/null 2>&1
	node_stop_all
	[ "$failed" != 0 ] || rm -rf "$(node_dir "$name")"
	rm -rf "$tmp"
}

vmm_e2e_init() {
	name=$1 D=$2
	failed=0
	tmp=$(mktemp -d)
	trap vmm_e2e_finish EXIT
	node_exit_on_signals
}

vmm_e2e_need() {
	local f
	for f in "$@"; do
		if [ ! -f "$f" ]; then
			not_ok "${f#$NODE_ROOT/} is missing (make guest, make static, make node)"
			exit 1
		fi
	done
}

vmm_e2e_seed() {
	mkdir -p "$tmp/root/usr/bin" "$tmp/root/opt/e2e"
	install -m 0755 "$NODE_ROOT/tests/node/e2e/vmm-guest" "$tmp/root/usr/bin/"
	# A NoCloud seed, as KubeVirt gives its VMs: without a datasource
	# CirrOS tries the EC2 metadata URL 20 times, each a long timeout
	# once it has a network.
	printf '#!/bin/sh\necho "%s"\n' "$2" > "$tmp/user-data"
	if ! "$NODE_ROOT/boot/guest/mkcidata.sh" "$tmp/root/opt/e2e/cidata.iso" "$1" "$tmp/user-data"; then
		not_ok "NoCloud seed ISO (boot/guest/mkcidata.sh)"
		exit 1
	fi
}

vmm_e2e_pack() {
	node_cpio "$tmp/root" "$tmp/extra.cpio.gz" || { not_ok "packing the node's extra files"; exit 1; }
}

vmm_e2e_vmm_args() {
	printf '%s ' --net "tap=dtap0,mac=$VMM_E2E_MAC" --rng on \
		--console "unix:$D/console.sock" --console-log "$D/console.log" --control "$D/control.sock" \
		--stop-timeout 180 --user 65534:65534 --seccomp on
}

vmm_e2e_node_up() {
	if ! node_alive "$name"; then
		node_start "$name" --extra-initrd "$tmp/extra.cpio.gz" || return 2
		node_exec "$name" --timeout 30 -- "vmm-guest net $D dtap0 192.168.77" > "$tmp/net.out" 2>&1 ||
			return 3
	fi
}

vmm_e2e_attempt() {
	local addr session
	vmm_e2e_node_up || return
	t0=$(node_exec "$name" -- 'cut -d" " -f1 /proc/uptime')
	node_exec "$name" --timeout 60 -- "${VMM_E2E_PREP:+$VMM_E2E_PREP && }vmm-guest start $D drover-vmm $*" ||
		return 4
	addr=$(node_addr "$name") || return 2
	"$(node_nodeexec)" run "$addr" --timeout $((limit + 400)) -- \
		"vmmcon -t 60 -o $D/session.log unix:$D/console.sock $(printf "'%s' " "${steps[@]}")" \
		> /dev/null 2> "$tmp/vmmcon.err" &
	session=$!
	if ! node_watch "$name" "$session" "wc -c < $D/console.log"; then
		wait "$session"
		echo "$NODE_WATCH_WHY" > "$tmp/watch.why"
		return 5
	fi
	wait "$session" || return 1
	t1=$(node_exec "$name" -- 'cut -d" " -f1 /proc/uptime')
	node_get "$name" "$D/session.log" "$tmp/session.log" 2> /dev/null
	node_get "$name" "$D/console.log" "$tmp/console.log" 2> /dev/null
	tr -d '\r' < "$tmp/session.log" > "$tmp/session.txt" 2> /dev/null
}

# Should the emulated node still fail under us (see NODE_SMP in the
# tests), one failed boot is reported ("# attempt 1 failed", with the
# guest's console tail, the VMM's exit counters and the node's log) and
# retried once in a fresh node; the checks run on the attempt that got
# through ($try).
vmm_e2e_boot() {
	local rc why
	for try in 1 2; do
		vmm_e2e_attempt "$@"
		rc=$?
		[ "$rc" = 0 ] && return 0
		why="vmmcon exit $rc: $(tail -c 200 "$tmp/vmmcon.err" 2> /dev/null | tr '\n' ' ')"
		case $rc in 2) why="the node did not boot" ;; 3) why="tap/udhcpd: $(cat "$tmp/net.out")" ;;
		4) why="drover-vmm did not start" ;; 5) why="stopped early: $(cat "$tmp/watch.why")" ;; esac
		if [ "$try" = 2 ] || [ "$rc" = 3 ] || [ "$rc" = 4 ]; then
			not_ok "console session: log in and run the checks ($why)"
			exit 1
		fi
		echo "# attempt 1 failed ($why); guest console tail, VMM status and node log:"
		if node_alive "$name"; then
			node_exec "$name" --timeout 20 -- "tail -n 3 $D/console.log; tail -n 2 $D/vmm.log;
				vmmcon -t 5 unix:$D/control.sock 'send:status\\n' drain:500" 2>&1 | tr -d '\r' | sed 's/^/#   /'
			echo
		fi
		node_log "$name" 5 | sed 's/^/#   node: /'
		node_stop "$name"
	done
}

vmm_e2e_val() { grep -o "^$1:.*" "$tmp/session.txt" | head -n 1 | cut -d: -f2- | tr -d ' '; }

# A graceful stop, as the agent asks for one: "stop" on the control
# socket presses Ctrl+Alt+Del; CirrOS's init (::ctrlaltdel:/sbin/reboot)
# shuts down and reboots through the i8042 reset line; the VMM reports a
# clean stop (status 0).
vmm_e2e_stop() {
	local ans st
	ans=$(node_exec "$name" --timeout 30 -- "vmmcon -t 10 unix:$D/control.sock 'send:stop\\n' drain:1000" 2>&1)
	check "control socket: stop is accepted ($ans)" bash -c '[[ $1 == *"{"* ]]' _ "$ans"
	st=$(node_exec "$name" --timeout 240 -- "vmm-guest wait $D 200" 2>&1)
	check "the guest shuts down and drover-vmm exits with status 0 (got '$st')" [ "$st" = 0 ]
	node_get "$name" "$D/console.log" "$tmp/console.log" 2> /dev/null
	check "the guest ran its shutdown (console: 'The system is going down' or 'reboot: ')" \
		grep -qiE 'going down|Restarting system|reboot: ' "$tmp/console.log"
}

# Privilege drop and seccomp, read from the running VMM.
vmm_e2e_check_sandbox() {
	local ps_out
	ps_out=$(node_exec "$name" -- 'grep -E "^(Uid|Gid|Seccomp):" /proc/'"$VMM_E2E_PID"'/status' 2>&1)
	check "drover-vmm runs as uid/gid 65534 in seccomp filter mode ($(tr '\n\t' '  ' <<< "$ps_out"))" \
		bash -c 'grep -qE "^Uid:\s+65534\s+65534\s+65534" <<< "$1" && grep -qE "^Gid:\s+65534" <<< "$1" &&
			grep -qE "^Seccomp:\s+2" <<< "$1"' _ "$ps_out"
}
