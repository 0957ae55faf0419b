# tests/node/lib.sh: boot and drive the emulated edge node. Source it (bash).
#
#   node_build                     build/refresh the node image (no-op when
#                                  inputs are unchanged): boot/node/build.sh
#                                  $DROVER_NODEDIR $DROVER_BINDIR $DROVER_GUESTDIR
#                                  $DROVER_DROVERD (the glibc droverd, with the
#                                  pod network, when built: make node)
#   node_start NAME [--mem M] [--extra-initrd FILE.cpio.gz]... [--no-wait]
#                                  boot the node in the background (QEMU) and
#                                  wait until it is ready (serial marker and
#                                  the exec service answering)
#   node_wait NAME [TIMEOUT]       wait until NAME is ready
#   node_exec NAME [--timeout S] [--stdin] -- CMD...
#                                  run CMD (a shell command line) in the node:
#                                  its stdout/stderr, its exit status
#   node_put NAME LOCAL REMOTE     copy a file into the node (mode kept)
#   node_get NAME REMOTE LOCAL     copy a file out of the node
#   node_log NAME [LINES]          tail of the node's serial console
#   node_marker_uptime NAME MARKER uptime (s) printed with "drover-node: MARKER"
#   node_trouble NAME [FROM]       the first node kernel report of trouble
#                                  (soft lockup, RCU stall, hung task, oops,
#                                  panic) in serial.log after line FROM
#   node_watch NAME PID [PROGRESS] watch NAME while host process PID runs
#                                  (see below): 0 once PID has ended, else
#                                  PID is killed, 1, reason in NODE_WATCH_WHY
#   node_port NAME api|exec        the host port forwarded to 6443 / the exec port
#   node_stop NAME                 power off and kill QEMU; node_stop_all: every
#                                  node this shell started (use in a trap)
#   node_exit_on_signals           make INT/TERM/HUP exit the shell, so that an
#                                  EXIT trap (node_stop_all) runs: bash skips
#                                  EXIT traps when killed by a signal, and QEMU
#                                  runs in its own session (timeout(1) would
#                                  leave it behind)
#   node_cpio DIR OUT.cpio.gz      pack DIR (as the node's /) into an extra
#                                  initrd for node_start --extra-initrd; an
#                                  executable /etc/drover/rc.d/NAME in it runs
#                                  at the end of the node's boot
#
# Environment:
#   DROVER_NODEDIR   node image (default ROOT/build/node)
#   DROVER_BINDIR    static Drover binaries (default ROOT/build/static)
#   DROVER_GUESTDIR  guest artifacts (default ROOT/build/guest)
#   NODE_RUNDIR      run directories (default ROOT/build/node-run); NAME's is
#                    $NODE_RUNDIR/NAME: serial.log, qemu.log, pid, api_port,
#                    exec_port, accel, start_time, initrd
#   NODE_ACCEL       kvm or tcg (default: kvm only with VT-x/AMD-V, nested
#                    virtualisation and a /dev/kvm that is not PVM)
#   NODE_BOOT_TIMEOUT  seconds to wait for readiness (default 600)
#   NODE_MEM         default memory (default 2G)
#   NODE_SMP         the node's CPUs (default 2)
#   NODE_CPU         QEMU's -cpu model when accel is tcg (default EPYC)
#   NODE_TCG         QEMU's -accel value when accel is tcg (default
#                    tcg,thread=multi)
#   NODE_QEMU_ARGS   more QEMU arguments for the node (split at blanks), e.g.
#                    "-monitor unix:/tmp/m.sock,server,nowait" to look at a
#                    hung node with "info registers"
#   NODE_HANG_SECS   node_watch: no answer from the exec service for this
#                    long is a hung node (default 90)
#   NODE_STALL_SECS  node_watch: PROGRESS unchanged this long is a stalled
#                    guest (default 240)
#   NODE_APPEND      the node kernel's command line (default
#                    "console=ttyS0 quiet panic=-1"; drop quiet to see the
#                    node kernel's warnings in serial.log)
#   NODE_TCG_APPEND  added to it when accel is tcg (default "highres=off
#                    nohz=off init_on_alloc=0", see below; "" drops it)
#
# Inside the node: the exec service listens on port 7022; the API port is
# 6443; guest artifacts are in /var/lib/drover/guest; logs in /var/log
# (droverd.log, modules.log, nodeexec.log, udhcpc.log, rc.d.log). /init starts
# /usr/bin/droverd once at boot with the arguments in /etc/drover/droverd.args
# (if an extra initrd provides it), then runs /etc/drover/rc.d/* in order.

NODE_ROOT=${NODE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
DROVER_NODEDIR=${DROVER_NODEDIR:-$NODE_ROOT/build/node}
DROVER_BINDIR=${DROVER_BINDIR:-$NODE_ROOT/build/static}
DROVER_GUESTDIR=${DROVER_GUESTDIR:-$NODE_ROOT/build/guest}
# The node's droverd: the glibc build (the pod network needs libnftables and
# libmnl, which the musl build cannot link: net/sources.mk); "" : BINDIR's.
if [ -z "${DROVER_DROVERD+set}" ] && [ -x "$NODE_ROOT/build/droverd" ]; then
	DROVER_DROVERD=$NODE_ROOT/build/droverd
fi
DROVER_DROVERD=${DROVER_DROVERD:-}
NODE_RUNDIR=${NODE_RUNDIR:-$NODE_ROOT/build/node-run}
NODE_BOOT_TIMEOUT=${NODE_BOOT_TIMEOUT:-600}
NODE_MEM=${NODE_MEM:-2G}
NODE_APPEND=${NODE_APPEND:-console=ttyS0 quiet panic=-1}
# The node kernel under TCG (QEMU 7.2, Debian 12), for two faults of the
# emulation, not of the node or of drover-vmm:
# - highres=off nohz=off: a periodic LAPIC tick. TCG's VMRUN sets its
#   virtual-interrupt request bit with a plain read-modify-write outside
#   QEMU's big lock (helper_vmrun, "interrupt_request |= VIRQ"; upstream
#   made it atomic in 2025), so the I/O thread's "timer fired" notice can
#   be lost: the node's timer vector then sits in its LAPIC's IRR and is
#   never taken. A one-shot timer is never re-armed, so the node CPU stays
#   in the guest (seen: minutes at a fixed guest RIP, IRR 236, no
#   interrupt) until some other interrupt comes; a 2-vCPU guest spinning
#   for its other vCPU (smp_call_function, console_trylock_spinning) on a
#   1-CPU node never lets it run: soft lockups, hung boots. A periodic
#   tick re-raises the notice 4 ms later.
# - init_on_alloc=0: the first writes to memory that held a guest's code
#   are slow under TCG (its code-page write path; 5-22 s for some 2 MiB
#   pages after a CirrOS guest), and init_on_alloc zeroes a new huge page
#   in the allocator without a reschedule: the next VMM's first touch of
#   guest RAM held the only CPU for 22-105 s (soft lockups). Without it
#   the kernel zeroes the page once, in clear_huge_page, preemptibly.
NODE_TCG_APPEND=${NODE_TCG_APPEND-highres=off nohz=off init_on_alloc=0}
NODE_TCG=${NODE_TCG:-tcg,thread=multi}
NODE_CPU=${NODE_CPU:-EPYC}
NODE_EXEC_PORT=7022
NODE_API_PORT=6443
NODE_STARTED=()

node_msg() { printf '[node] %s\n' "$*" >&2; }

node_dir() { printf '%s/%s\n' "$NODE_RUNDIR" "$1"; }

node_nodeexec() { printf '%s/tools/nodeexec\n' "$DROVER_NODEDIR"; }

node_build() {
	"$NODE_ROOT/boot/node/build.sh" "$DROVER_NODEDIR" "$DROVER_BINDIR" "$DROVER_GUESTDIR" \
		${DROVER_DROVERD:+"$DROVER_DROVERD"}
}

# node_accel: prints "kvm" or "tcg".
node_accel() {
	local nested
	if [ -n "${NODE_ACCEL:-}" ]; then
		printf '%s\n' "$NODE_ACCEL"
		return
	fi
	nested=$(cat /sys/module/kvm_intel/parameters/nested /sys/module/kvm_amd/parameters/nested 2>/dev/null || true)
	if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -c /dev/kvm ] && [ ! -e /sys/module/kvm_pvm ] &&
		[[ $nested == *[Y1]* ]]; then
		echo kvm
	else
		echo tcg
	fi
}

# node_free_port: a TCP port nothing listens on (checked with ss).
node_free_port() {
	local p used
	used=$(ss -Htln 2>/dev/null | awk '{ n = split($4, a, ":"); print a[n] }')
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 40000))
		if ! grep -qx "$p" <<< "$used" && ! grep -qx "$p" "$NODE_RUNDIR"/*/*_port 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

node_cpio() {
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1 > "$2.tmp" &&
		mv -f "$2.tmp" "$2"
}

node_log() {
	local f
	f=$(node_dir "$1")/serial.log
	if [ -f "$f" ]; then
		tail -n "${2:-40}" "$f" | tr -d '\r'
	else
		echo "(no serial log at $f)"
	fi
}

# node_fail NAME MESSAGE: prints MESSAGE and the tail of NAME's serial log.
node_fail() {
	node_msg "$2"
	node_msg "--- last lines of $(node_dir "$1")/serial.log ---"
	node_log "$1" 40 | sed 's/^/  | /' >&2
	local q
	q=$(node_dir "$1")/qemu.log
	if [ -s "$q" ]; then
		node_msg "--- qemu.log ---"
		tail -n 10 "$q" | sed 's/^/  | /' >&2
	fi
	return 1
}

node_alive() {
	local pid
	pid=$(cat "$(node_dir "$1")/pid" 2>/dev/null) || return 1
	kill -0 "$pid" 2>/dev/null
}

node_port() {
	cat "$(node_dir "$1")/$2_port"
}

node_marker_uptime() {
	sed -n "s/.*drover-node: $2 (uptime \([0-9.]*\) s).*/\1/p" "$(node_dir "$1")/serial.log" | sed -n 1p
}

# node_trouble NAME [FROM]: prints the first line after line FROM (default
# 0) of NAME's serial log where the node kernel reports trouble; status 1
# when there is none.
node_trouble() {
	tail -n +"$((${2:-0} + 1))" "$(node_dir "$1")/serial.log" 2> /dev/null | tr -d '\r' |
		grep -a -m 1 -E 'BUG: soft lockup|rcu: INFO: rcu_.* stall|blocked for more than|Kernel panic|Oops:|general protection fault|BUG: unable to handle'
}

# node_watch NAME PID [PROGRESS]: while the host process PID (a long
# node_exec, say) runs, checks NAME every NODE_WATCH_EVERY (10) s; kills PID and returns 1,
# with the reason in NODE_WATCH_WHY, as soon as QEMU has exited, the node
# kernel reports trouble (node_trouble, lines since the call), the exec
# service has not answered for NODE_HANG_SECS (each probe is given
# NODE_PROBE_SECS, 15), or the node command line
# PROGRESS (e.g. the size of a guest's console log) has printed the same
# thing for NODE_STALL_SECS. A stuck node fails in about a minute and a
# half instead of at its caller's time-out. Returns 0 once PID has ended
# (its status is the caller's to wait for).
node_watch() {
	local name=$1 pid=$2 progress=${3:-} from last_ok now out prev="" since why="" probe=${NODE_PROBE_SECS:-15}
	from=$(wc -l < "$(node_dir "$name")/serial.log" 2> /dev/null || echo 0)
	last_ok=$(date +%s) since=$last_ok
	NODE_WATCH_WHY=
	while kill -0 "$pid" 2> /dev/null; do
		sleep "${NODE_WATCH_EVERY:-10}" & wait $!
		kill -0 "$pid" 2> /dev/null || break
		now=$(date +%s)
		if ! node_alive "$name"; then
			why="QEMU of node $name exited"
		elif why=$(node_trouble "$name" "$from"); then
			why="node kernel: ${why#\[*\] }"
		elif out=$(NODEEXEC_CONNECT_TIMEOUT=$probe timeout "$probe" "$(node_nodeexec)" run \
			"127.0.0.1:$(node_port "$name" exec)" --timeout "$probe" -- "echo alive; ${progress:-true}" 2> /dev/null) &&
			[[ $out == alive* ]]; then
			last_ok=$now why=""
			if [ -n "$progress" ] && [ "$out" != "$prev" ]; then
				prev=$out since=$now
			elif [ -n "$progress" ] && [ $((now - since)) -ge "${NODE_STALL_SECS:-240}" ]; then
				why="no progress for $((now - since)) s (${progress}: $(tr '\n' ' ' <<< "${out#alive}"))"
			fi
		elif [ $((now - last_ok)) -ge "${NODE_HANG_SECS:-90}" ]; then
			why="node $name: the exec service has not answered for $((now - last_ok)) s (hung node)"
		fi
		if [ -n "$why" ]; then
			NODE_WATCH_WHY=$why
			kill "$pid" 2> /dev/null
			node_msg "node_watch: $why"
			return 1
		fi
	done
	return 0
}

node_start() {
	local name=$1 mem=$NODE_MEM wait=1 dir accel cpu api ex extras=() f append=$NODE_APPEND
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--mem) mem=$2; shift 2 ;;
		--extra-initrd) extras+=("$2"); shift 2 ;;
		--no-wait) wait=0; shift ;;
		*) node_msg "node_start: unknown option $1"; return 2 ;;
		esac
	done
	node_build >&2 || { node_msg "node image build failed"; return 1; }
	dir=$(node_dir "$name")
	if node_alive "$name"; then
		node_msg "node $name is already running (pid $(cat "$dir/pid"))"
		return 1
	fi
	rm -rf "$dir"
	mkdir -p "$dir"
	cat "$DROVER_NODEDIR/initramfs" > "$dir/initrd"
	for f in "${extras[@]}"; do
		[ -f "$f" ] || { node_msg "no such initrd: $f"; return 1; }
		cat "$f" >> "$dir/initrd"
	done
	accel=$(node_accel)
	if [ "$accel" = kvm ]; then
		accel="-accel kvm" cpu=host
	else
		accel="-accel $NODE_TCG" cpu=$NODE_CPU append="$append${NODE_TCG_APPEND:+ $NODE_TCG_APPEND}"
	fi
	api=$(node_free_port) && echo "$api" > "$dir/api_port" &&
		ex=$(node_free_port) && echo "$ex" > "$dir/exec_port" || { node_msg "no free port"; return 1; }
	echo "$accel" > "$dir/accel"
	: > "$dir/serial.log"
	# shellcheck disable=SC2086
	set -- qemu-system-x86_64 -M q35 $accel -cpu "$cpu" -smp "${NODE_SMP:-2}" -m "$mem" \
		-nodefaults -nographic -no-reboot -display none -monitor none \
		-kernel "$DROVER_NODEDIR/vmlinuz" -initrd "$dir/initrd" \
		-append "$append" \
		-serial "file:$dir/serial.log" \
		-netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$api-:$NODE_API_PORT,hostfwd=tcp:127.0.0.1:$ex-:$NODE_EXEC_PORT" \
		-device virtio-net-pci,netdev=n0,romfile= ${NODE_QEMU_ARGS:-}
	printf '%q ' "$@" > "$dir/qemu.cmd"
	date +%s.%N > "$dir/start_time"
	setsid "$@" < /dev/null > "$dir/qemu.log" 2>&1 &
	echo $! > "$dir/pid"
	NODE_STARTED+=("$name")
	node_msg "node $name: pid $!, $accel, $mem, api 127.0.0.1:$api, exec 127.0.0.1:$ex"
	[ "$wait" = 0 ] || node_wait "$name"
}

node_wait() {
	local name=$1 limit=${2:-$NODE_BOOT_TIMEOUT} dir end ex
	dir=$(node_dir "$name")
	end=$(($(date +%s) + limit))
	until grep -q 'drover-node: ready' "$dir/serial.log" 2>/dev/null; do
		node_alive "$name" || { node_fail "$name" "node $name: QEMU exited during boot"; return 1; }
		[ "$(date +%s)" -lt "$end" ] ||
			{ node_fail "$name" "node $name: not ready after $limit s"; return 1; }
		sleep 0.5
	done
	ex=$(node_port "$name" exec)
	"$(node_nodeexec)" wait "127.0.0.1:$ex" "$((end - $(date +%s) > 5 ? end - $(date +%s) : 5))" ||
		{ node_fail "$name" "node $name: exec service does not answer"; return 1; }
	date +%s.%N > "$dir/ready_time"
}

# node_addr NAME: 127.0.0.1:PORT of NAME's exec service, or an error.
node_addr() {
	local f
	f=$(node_dir "$1")/exec_port
	if [ ! -f "$f" ] || ! node_alive "$1"; then
		node_msg "node $1 is not running (no live QEMU for $(node_dir "$1"))"
		return 1
	fi
	printf '127.0.0.1:%s\n' "$(cat "$f")"
}

node_exec() {
	local name=$1 addr
	shift
	addr=$(node_addr "$name") || return 255
	"$(node_nodeexec)" run "$addr" "$@"
}

node_put() {
	local addr
	addr=$(node_addr "$1") || return 1
	"$(node_nodeexec)" put "$addr" "$2" "$3"
}

node_get() {
	local addr
	addr=$(node_addr "$1") || return 1
	"$(node_nodeexec)" get "$addr" "$2" "$3"
}

node_stop() {
	local name=$1 dir pid i
	dir=$(node_dir "$name")
	pid=$(cat "$dir/pid" 2>/dev/null) || return 0
	if kill -0 "$pid" 2>/dev/null; then
		NODEEXEC_CONNECT_TIMEOUT=3 node_exec "$name" --timeout 5 -- 'sync; poweroff -f' \
			> /dev/null 2>&1 &
		for i in $(seq 20); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.25
		done
		kill -TERM "$pid" 2>/dev/null || true
		for i in $(seq 20); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.25
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$dir/pid" "$dir/initrd"
}

node_exit_on_signals() {
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
}

node_stop_all() {
	local n
	for n in "${NODE_STARTED[@]}"; do
		node_stop "$n"
	done
	NODE_STARTED=()
}
