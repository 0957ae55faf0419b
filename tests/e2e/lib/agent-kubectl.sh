# shellcheck shell=bash
# tests/e2e/lib/agent-kubectl.sh: the host's kubectl (and droverctl
# console) against droverd's mutual-TLS API in the emulated node, through
# the node's forwarded API port (tests/node/lib.sh: host 127.0.0.1:PORT ->
# the node's 6443). Source it after tests/e2e/lib/agent-node.sh.
#
#   kapi_e2e_pki USER...     a CA, the server certificate (localhost,
#                            127.0.0.1) and USER's client certificates in
#                            $tmp/pki (USER or USER:GROUP); the server's
#                            files in $tmp/root/etc/drover/pki/ (droverd's
#                            defaults: the node's droverd serves the API)
#   kapi_e2e_kubeconfig USER...  $tmp/kc-USER for the node's API port (after
#                            the node is up)
#   kc USER ARGS...          kubectl ARGS... as USER, with a fresh
#                            --cache-dir every time (no discovery cached),
#                            at most 300 s
#   kc_console USER VMI NS STEPS  `droverctl console VMI -n NS` as USER
#                            from the host, on a pseudo-terminal driven by
#                            tests/agent/console_pty.py STEPS (stdin); the
#                            output in $tmp/console-VMI.log, each step's
#                            time in $tmp/console-VMI.trace
# Environment: tests/node/lib.sh's ($DROVER_BINDIR for droverctl).

kapi_e2e_pki() {
	local u n g
	"$DROVER_BINDIR/droverctl" certs init --dir "$tmp/pki" > /dev/null || return 1
	for u; do
		n=${u%%:*} g=
		[ "$n" != "$u" ] && g="--group ${u#*:}"
		# shellcheck disable=SC2086
		"$DROVER_BINDIR/droverctl" certs user "$n" $g --dir "$tmp/pki" > /dev/null || return 1
	done
	mkdir -p "$tmp/root/etc/drover/pki"
	install -m 0600 "$tmp/pki/server.crt" "$tmp/pki/server.key" "$tmp/pki/ca.crt" \
		"$tmp/root/etc/drover/pki/"
}

kapi_e2e_kubeconfig() {
	local u port
	port=$(node_port "$name" api) || return 1
	for u; do
		"$DROVER_BINDIR/droverctl" kubeconfig "$u" --server "https://127.0.0.1:$port" \
			--dir "$tmp/pki" --out "$tmp/kc-$u" 2> /dev/null || return 1
	done
}

kc() {
	local u=$1
	shift
	timeout 300 kubectl --kubeconfig "$tmp/kc-$u" \
		--cache-dir "$(mktemp -d "$tmp/kcache.XXXXXX")" "$@"
}

kc_console() {
	local u=$1 v=$2 ns=$3
	python3 "$NODE_ROOT/tests/agent/console_pty.py" --timeout 180 --log "$tmp/console-$v.log" \
		--trace "$tmp/console-$v.trace" -- \
		"$DROVER_BINDIR/droverctl" console "$v" -n "$ns" --kubeconfig "$tmp/kc-$u"
}
