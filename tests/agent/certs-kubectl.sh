#!/usr/bin/env bash
# tests/agent/certs-kubectl.sh BUILD (e.g. build/asan): droverctl's PKI
# (issue 6) as its users see it: `droverctl certs init` (CA and server
# certificate with the node's names plus --san), `certs user NAME --group
# G`, `kubeconfig NAME --server URL --out FILE`: files mode 0600, the
# chain accepted by `openssl verify` with the right purposes, SANs and key
# type in `openssl x509 -text`, and kubectl using the kubeconfig as is
# against a mutual-TLS server (openssl s_server -Verify with our server
# certificate and CA): its request arrives with our client certificate; a
# client certificate from another CA is refused. Bad input: clear errors.
set -uo pipefail
build=${1:-build/asan}
ctl=$build/bin/droverctl
failed=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
ok() { echo "ok - certs-kubectl: $1"; }
nok() { echo "not ok - certs-kubectl: $1"; failed=1; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else nok "$name"; fi; }

[ -x "$ctl" ] || { nok "$ctl built"; exit 1; }
for t in openssl kubectl; do
	command -v $t > /dev/null || { nok "$t installed (make deps)"; exit 1; }
done
T=$(mktemp -d /tmp/certs-kubectl.XXXXXX)
srv=
cleanup() {
	[ -n "$srv" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
	[ -n "${KEEP:-}" ] && echo "# kept $T" || rm -rf "$T"
}
trap cleanup EXIT
P=$T/pki

init() { "$ctl" certs init --dir "$P" --san 192.0.2.77 --san edge.example,10.1.2.3 --days 30 > "$T/init.out" 2>&1; }
user() { "$ctl" certs user admin --group system:masters --group ops --dir "$P" > "$T/user.out" 2>&1; }
kubeconfig() { "$ctl" kubeconfig admin --server "https://127.0.0.1:$port" --dir "$P" --out "$T/kc" 2> "$T/kc.err"; }
modes() {
	local f
	for f in "$P/ca.crt" "$P/ca.key" "$P/server.crt" "$P/server.key" \
	    "$P/users/admin.crt" "$P/users/admin.key" "$T/kc"; do
		[ "$(stat -c %a "$f")" = 600 ] || { echo "# $f: $(stat -c %a "$f")"; return 1; }
	done
	[ "$(stat -c %a "$P")" = 700 ] && ! ls "$P" | grep -q tmp
}
verify() {
	openssl verify -purpose sslserver -CAfile "$P/ca.crt" "$P/server.crt" > /dev/null &&
	openssl verify -purpose sslclient -CAfile "$P/ca.crt" "$P/users/admin.crt" > /dev/null &&
	! openssl verify -purpose sslclient -CAfile "$P/ca.crt" "$P/server.crt" > /dev/null 2>&1
}
server_text() {
	local t
	t=$(openssl x509 -in "$P/server.crt" -noout -text) || return 1
	for w in "DNS:localhost" "DNS:$(hostname)" "IP Address:127.0.0.1" \
	    "IP Address:192.0.2.77" "IP Address:10.1.2.3" "DNS:edge.example" \
	    "TLS Web Server Authentication" "ASN1 OID: prime256v1" "CA:FALSE"; do
		grep -qF "$w" <<< "$t" || { echo "# no '$w'"; return 1; }
	done
}
user_text() {
	openssl x509 -in "$P/users/admin.crt" -noout -subject | \
		grep -qx 'subject=CN = admin, O = system:masters, O = ops'
}
kc_view() {
	[ "$(kubectl --kubeconfig "$T/kc" config view -o jsonpath='{.clusters[0].cluster.server} {.users[0].name} {.current-context}')" = \
	    "https://127.0.0.1:$port admin drover" ]
}

port=$(( 20000 + RANDOM % 20000 ))
check "certs init writes the CA and server certificate" init
check "certs user writes admin's certificate" user
check "kubeconfig --out writes the kubeconfig" kubeconfig
check "every key, certificate and the kubeconfig is mode 0600 (dir 0700)" modes
check "openssl verify: server (sslserver) and client (sslclient) chains" verify
check "server certificate: node names, --san names and IPs, serverAuth, P-256" server_text
check "client certificate: CN=admin, one O per --group" user_text
check "kubectl config view reads the kubeconfig" kc_view

# kubectl through mutual TLS: s_server -www answers GET / with its status
# page, which names the client certificate it verified.
openssl s_server -accept "$port" -cert "$P/server.crt" -key "$P/server.key" \
	-CAfile "$P/ca.crt" -Verify 1 -verify_return_error -www \
	> "$T/s_server.log" 2>&1 &
srv=$!
for _ in $(seq 50); do
	(exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
	sleep 0.1
done
kubectl_mtls() {
	kubectl --kubeconfig "$T/kc" get --raw / > "$T/raw.out" 2>&1 &&
	grep -q "Client certificate" "$T/raw.out" &&
	grep -q "CN *= *admin" "$T/raw.out"
}
check "kubectl uses the kubeconfig as is over mutual TLS" kubectl_mtls
other_ca() {
	"$ctl" certs init --dir "$T/other" > /dev/null &&
	"$ctl" certs user admin --dir "$T/other" > /dev/null &&
	"$ctl" kubeconfig admin --server "https://127.0.0.1:$port" --dir "$T/other" --out "$T/kc2" 2> /dev/null &&
	! kubectl --kubeconfig "$T/kc2" get --raw / > "$T/raw2.out" 2>&1 &&
	grep -q "certificate signed by unknown authority" "$T/raw2.out"
}
check "a server certificate from another CA is refused by kubectl" other_ca

# Re-running init keeps the CA; users' certificates stay valid.
reinit() {
	local before
	before=$(openssl x509 -in "$P/ca.crt" -noout -fingerprint)
	"$ctl" certs init --dir "$P" > "$T/init2.out" 2>&1 &&
	grep -q "using the CA in $P" "$T/init2.out" &&
	[ "$(openssl x509 -in "$P/ca.crt" -noout -fingerprint)" = "$before" ] &&
	openssl verify -CAfile "$P/ca.crt" "$P/users/admin.crt" > /dev/null
}
check "certs init again keeps the CA" reinit

# Bad input.
err_is() { # err_is EXPECTED-STATUS TEXT COMMAND...
	local want=$1 text=$2 st; shift 2
	"$@" > "$T/err.out" 2>&1; st=$?
	[ "$st" = "$want" ] && grep -qF -- "$text" "$T/err.out" ||
		{ echo "# status $st:"; sed 's/^/# /' "$T/err.out"; return 1; }
}
check "certs user without a CA: error" err_is 1 "no CA in $T/none" "$ctl" certs user x --dir "$T/none"
check "certs user with a bad name: usage" err_is 2 "bad user name '../x'" "$ctl" certs user ../x --dir "$P"
check "certs init --san with a bad name: error" err_is 1 "bad name 'a b'" "$ctl" certs init --dir "$P" --san "a b"
check "certs init --days 0: usage" err_is 2 "--days: 1 to 36500" "$ctl" certs init --dir "$P" --days 0
check "kubeconfig without --server: usage" err_is 2 "needs NAME and --server" "$ctl" kubeconfig admin --dir "$P"
check "kubeconfig with http://: error" err_is 2 "must be an https:// URL" "$ctl" kubeconfig admin --server http://x --dir "$P"
check "kubeconfig for an unknown user: error" err_is 1 "users/nobody.crt" "$ctl" kubeconfig nobody --server https://x --dir "$P"
exit $failed
