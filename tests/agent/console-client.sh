#!/usr/bin/env bash
# tests/agent/console-client.sh BUILD (e.g. build/asan): `droverctl
# console` (issue 6) on a pseudo-terminal (console_pty.py) against
# wsconsole.py, a stand-in for droverd's console subresource with mutual
# TLS, using certificates and a kubeconfig from droverctl itself: the
# banner, raw mode, guest output, typed bytes echoed, pings answered,
# masked binary frames only, Ctrl+] exits 0 and restores the terminal, a
# second session takes over (the first ends with a message, status 1),
# refusals printed as kubectl prints them (400, 409, 404), a wrong CA and
# a missing kubeconfig refused with clear errors. (console-droverd.sh
# runs the same client against droverd and a real VMI.)
set -uo pipefail
build=${1:-build/asan}
ctl=$(cd "$(dirname "$build/bin/droverctl")" 2>/dev/null && pwd)/droverctl
here=$(cd "$(dirname "$0")" && pwd)
failed=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
ok() { echo "ok - console-client: $1"; }
nok() { echo "not ok - console-client: $1"; failed=1; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else nok "$name"; fi; }

[ -x "$ctl" ] || { nok "droverctl built"; exit 1; }
command -v python3 > /dev/null || { nok "python3 installed"; exit 1; }
T=$(mktemp -d /tmp/console-client.XXXXXX)
chmod 711 "$T"	# droverd-api (unprivileged) reaches its state and run dirs
srv=
cleanup() {
	[ -n "$srv" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
	if [ $failed -ne 0 ]; then
		echo "# events:"; sed 's/^/#   /' "$T/events" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT
P=$T/pki
port=$(( 20000 + RANDOM % 20000 ))
"$ctl" certs init --dir "$P" > /dev/null &&
"$ctl" certs user alice --group system:masters --dir "$P" > /dev/null &&
"$ctl" kubeconfig alice --server "https://127.0.0.1:$port" --dir "$P" --out "$T/kc" 2> /dev/null ||
	{ nok "certificates and kubeconfig made"; exit 1; }
python3 "$here/wsconsole.py" "$port" "$P/server.crt" "$P/server.key" "$P/ca.crt" "$T/events" &
srv=$!
for _ in $(seq 50); do grep -qs ready "$T/events" && break; sleep 0.1; done

banner='Successfully connected to vm1 console. Press Ctrl+] or Ctrl+5 to exit console.'
pty() { python3 "$here/console_pty.py" --timeout 10 "$@"; }
session() {
	pty --log "$T/s1.log" -- "$ctl" console vm1 -n default --kubeconfig "$T/kc" <<-EOF
	expect $banner
	raw
	expect hello from the console
	send abc
	expect ABC
	send hello world\r
	expect HELLO WORLD\r
	send \x1d
	exit 0
	cooked
	EOF
}
check "banner, raw terminal, output, typed bytes echoed, Ctrl+] exits 0, terminal restored" session
check "the server saw the client certificate's user" grep -qx "cn alice" "$T/events"
check "pings answered (pongs)" grep -q "^pong" "$T/events"
check "only masked binary frames from the client" bash -c "! grep -Eq 'unmasked|text-frame' '$T/events'"
check "Ctrl+] sends a close frame" grep -qx close "$T/events"

# KUBECONFIG instead of --kubeconfig; a second session takes over.
takeover() {
	rm -f "$T/first-up"
	KUBECONFIG=$T/missing:$T/kc pty --log "$T/a.log" -- "$ctl" console vm1 > "$T/a.out" 2>&1 <<-EOF &
	expect $banner
	send one
	expect ONE
	touch $T/first-up
	expect The console connection was closed by the server
	exit 1
	cooked
	EOF
	local a=$!
	# The second session starts once the first one typed.
	for _ in $(seq 200); do [ -e "$T/first-up" ] && break; sleep 0.05; done
	KUBECONFIG=$T/kc pty --log "$T/b.log" -- "$ctl" console vm1 <<-EOF
	expect $banner
	send two
	expect TWO
	send \x1d
	exit 0
	EOF
	local b=$?
	wait $a; local st=$?
	[ $st = 0 ] || cat "$T/a.out"
	[ $b = 0 ] && [ $st = 0 ] && grep -q takeover "$T/events"
}
check "a second session takes over; the first ends (status 1) with a message" takeover

refused() { # refused NAME TEXT
	"$ctl" console "$1" --kubeconfig "$T/kc" < /dev/null > "$T/r.out" 2>&1
	local st=$?
	[ $st = 1 ] && grep -qxF "$2" "$T/r.out" || { echo "# status $st:"; sed 's/^/# /' "$T/r.out"; return 1; }
}
check "VMI not running: 400 printed as kubectl does" refused waiting \
	"Error from server (BadRequest): Unable to connect to VirtualMachineInstance because phase is Scheduling instead of Running"
check "VMI Failed: 409" refused broken \
	'Error from server (Conflict): Operation cannot be fulfilled on virtualmachineinstance.kubevirt.io "broken": VMI is in failed status'
check "no such VMI: 404" refused nope \
	'Error from server (NotFound): virtualmachineinstances.kubevirt.io "nope" not found'
check "a chunked refusal body is read" refused chunky \
	"Error from server (BadRequest): sent in chunks"
wrong_ca() {
	"$ctl" certs init --dir "$T/other" > /dev/null &&
	"$ctl" certs user alice --dir "$T/other" > /dev/null &&
	"$ctl" kubeconfig alice --server "https://127.0.0.1:$port" --dir "$T/other" --out "$T/kc2" 2> /dev/null &&
	! "$ctl" console vm1 --kubeconfig "$T/kc2" < /dev/null > "$T/w.out" 2>&1 &&
	grep -q "error: the server's certificate for 127.0.0.1: .*not correctly signed" "$T/w.out"
}
check "a server from another CA: refused, named" wrong_ca
no_kc() {
	HOME=$T/nohome KUBECONFIG= "$ctl" console vm1 < /dev/null > "$T/n.out" 2>&1
	[ $? = 1 ] && grep -q "error: kubeconfig: $T/nohome/.kube/config: No such file" "$T/n.out"
}
check "no kubeconfig: error naming ~/.kube/config" no_kc
usage() { "$ctl" console > /dev/null 2>&1; [ $? = 2 ]; }
check "no NAME: usage (2)" usage
exit $failed
