#!/usr/bin/env bash
# tests/e2e/node-watch.sh: node_watch (tests/node/lib.sh), the early stop of
# a session on a stuck emulated node, against a stand-in node on the host
# (no QEMU, ~15 s): the real exec service (tests/node/nodeexec.c, built
# here) on a local port, a serial log the test writes to, and a sleep
# standing for QEMU's process. A host process (sleep) stands for the
# session node_watch guards. Cases: a session that ends on its own is left
# alone (and a trouble line already in the log before the watch started is
# not held against it); progress that stops is a stall; a soft lockup
# report in the serial log; an exec service that stops answering
# (SIGSTOP: a hung node); QEMU gone. Each stop must kill the session.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
failed=0 srv= qemu=
ok() { echo "ok - node_watch: $*"; }
not_ok() { echo "not ok - node_watch: $*"; failed=1; }
check() { local n=$1; shift; if "$@"; then ok "$n"; else not_ok "$n"; fi; }
finish() {
	[ -z "$srv" ] || { kill -CONT "$srv"; kill "$srv"; } 2> /dev/null
	[ -z "$qemu" ] || kill "$qemu" 2> /dev/null
	rm -rf "$tmp"
}
trap finish EXIT
trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 129' HUP

mkdir -p "$tmp/nodedir/tools" "$tmp/run/stand-in"
if ! gcc -std=c11 -O1 -Wall -Wextra -Werror -o "$tmp/nodedir/tools/nodeexec" \
	"$root/tests/node/nodeexec.c" 2> "$tmp/cc.log"; then
	not_ok "nodeexec builds: $(head -n 5 "$tmp/cc.log")"
	exit 1
fi
export DROVER_NODEDIR=$tmp/nodedir NODE_RUNDIR=$tmp/run
. "$root/tests/node/lib.sh"
name=stand-in
d=$(node_dir "$name")
sleep 600 & qemu=$!
echo "$qemu" > "$d/pid"
port=$((20000 + RANDOM % 40000))
echo "$port" > "$d/exec_port"
"$DROVER_NODEDIR/tools/nodeexec" serve "$port" 2> "$tmp/server.log" &
srv=$!
"$DROVER_NODEDIR/tools/nodeexec" wait "127.0.0.1:$port" 10 || { not_ok "the exec service starts"; exit 1; }
echo "[    3.100000] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [old:1]" > "$d/serial.log"
export NODE_WATCH_EVERY=1 NODE_PROBE_SECS=2 NODE_HANG_SECS=3 NODE_STALL_SECS=3

# watch_case SECS PROGRESS: node_watch on a fresh "sleep SECS"; prints
# "node_watch's status|its reason|the sleep's status (143: killed)".
watch_case() {
	local p st
	sleep "$1" & p=$!
	node_watch "$name" "$p" "$2" 2> /dev/null
	st=$?
	kill "$p" 2> /dev/null
	wait "$p"
	echo "$st|$NODE_WATCH_WHY|$?"
}

r=$(watch_case 4 'date +%s%N')
check "a session that ends on its own is left alone, an older lockup line ignored ($r)" [ "$r" = "0||0" ]
r=$(watch_case 60 'echo same')
check "progress that stops is a stall: the session is killed ($r)" \
	bash -c '[[ $1 == "1|no progress for "[3-9]" s (echo same: "*"|143" ]]' _ "$r"
(sleep 1.5; echo "[   40.200000] watchdog: BUG: soft lockup - CPU#0 stuck for 23s! [drover-vmm:177]" >> "$d/serial.log") &
r=$(watch_case 60 '')
check "a soft lockup report in the serial log stops the session ($r)" \
	bash -c '[[ $1 == "1|node kernel: watchdog: BUG: soft lockup - CPU#0 stuck for 23s! [drover-vmm:177]|143" ]]' _ "$r"
kill -STOP "$srv"
s=$(date +%s)
r=$(watch_case 60 '')
e=$(($(date +%s) - s))
kill -CONT "$srv"
check "an exec service that stops answering is a hung node, found in $e s ($r)" \
	bash -c '[[ $1 == "1|node stand-in: the exec service has not answered for "*" s (hung node)|143" ]] && [ "$2" -lt 15 ]' \
	_ "$r" "$e"
(sleep 1.5; kill "$qemu") &
r=$(watch_case 60 '')
check "QEMU gone stops the session ($r)" [ "$r" = "1|QEMU of node stand-in exited|143" ]
qemu=
exit $failed
