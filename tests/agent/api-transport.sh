#!/usr/bin/env bash
# tests/agent/api-transport.sh BUILD (e.g. build/asan): droverd's mutual-TLS
# API transport (agent/apiserver*.c) against the real droverd (runtime off),
# with curl, openssl s_client, kubectl and tests/agent/apiclient.py (raw TLS
# clients): certificates refused (none, another CA's, an expired one: the
# handshake fails and nothing is stored), TLS 1.2 and 1.3 (not 1.1), ALPN
# http/1.1 only (never h2), keep-alive (several requests, one connection),
# pipelining, HEAD, the identity (CN and every O value reach the
# handlers' authorization),
# 413 for an oversize header and an oversize body (refused from its
# Content-Length without the body being sent; nothing stored), 411/400 for
# bodies without a usable length, a slowloris client closed at the header
# timeout while others are served, the connection limit, chunked streaming
# (a watch), a client that does not read its watch dropped, a refused
# WebSocket upgrade answered as plain HTTP (then closed), and
# a clean stop. About 40 s. The WebSocket itself (frames, pings, the
# console) is in console-droverd.sh (it needs a running VMI).
set -uo pipefail
build=${1:-build/asan}
bin=$build/bin
here=$(cd "$(dirname "$0")" && pwd)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
failed=0
pid=
. "$(dirname "$0")/lib/tap.sh" api-transport

for f in "$bin/droverd" "$bin/droverctl"; do
	[ -x "$f" ] || { echo "not ok - api-transport: $f built"; exit 1; }
done
for t in curl openssl python3 kubectl jq; do
	command -v $t > /dev/null || { nok "$t installed (make deps)"; exit 1; }
done

T=$(mktemp -d /tmp/api-transport.XXXXXX)
chmod 711 "$T"	# droverd-api (unprivileged) reaches its state and run dirs
sock=$T/run/droverd.sock
port=$(( 20000 + RANDOM % 20000 ))
P=$T/pki
U=https://127.0.0.1:$port
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	if [ $failed -ne 0 ]; then
		echo "# droverd log (last 40 lines):"
		grep -v "as_lws_log" "$T/droverd.log" | tail -n 40 | sed 's/^/# /'
	fi
	if [ -n "${KEEP:-}" ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
ctl() { "$bin/droverctl" --socket "$sock" "$@"; }
# c USER CURL-ARGS...: curl as USER with our CA.
c() { local u=$1; shift
	curl -sS --cacert "$P/ca.crt" --cert "$P/users/$u.crt" \
		--key "$P/users/$u.key" "$@"; }
code() { local u=$1; shift; c "$u" -o /dev/null -w '%{http_code}' "$@" 2>/dev/null; }
py() { python3 "$here/apiclient.py" --port "$port" --pki "$P" "$@"; }
exists() { ctl get ns "$1" > /dev/null 2>&1; }

# PKI: ours (admin with two groups, a plain user, a viewer), another CA's,
# and an expired certificate from our CA (openssl ca: certs.c only issues
# valid ones).
"$bin/droverctl" certs init --dir "$P" > /dev/null &&
"$bin/droverctl" certs user admin --group team-x --group system:masters --dir "$P" > /dev/null &&
"$bin/droverctl" certs user alice --dir "$P" > /dev/null &&
"$bin/droverctl" certs user vera --group drover:viewers --dir "$P" > /dev/null &&
"$bin/droverctl" certs init --dir "$T/other" > /dev/null &&
"$bin/droverctl" certs user admin --group system:masters --dir "$T/other" > /dev/null &&
"$bin/droverctl" kubeconfig admin --server "$U" --dir "$P" --out "$T/kc" 2> /dev/null
pki_ok=$?
expired() {
	local d=$T/exp
	mkdir -p "$d/new" "$d/users" && : > "$d/index.txt" && echo 01 > "$d/serial"
	cat > "$d/ca.cnf" <<-EOF
	[ca]
	default_ca = d
	[d]
	database = $d/index.txt
	new_certs_dir = $d/new
	serial = $d/serial
	default_md = sha256
	policy = p
	[p]
	commonName = supplied
	organizationName = optional
	EOF
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj "/O=system:masters/CN=admin" -keyout "$d/users/admin.key" \
		-out "$d/admin.csr" 2> /dev/null &&
	openssl ca -batch -config "$d/ca.cnf" -cert "$P/ca.crt" -keyfile "$P/ca.key" \
		-startdate 20200101000000Z -enddate 20200201000000Z -notext \
		-in "$d/admin.csr" -out "$d/users/admin.crt" > /dev/null 2>&1 &&
	local v
	v=$(openssl verify -CAfile "$P/ca.crt" "$d/users/admin.crt" 2>&1)
	grep -q "certificate has expired" <<< "$v"
}
check "certificates: ours, another CA's, an expired one of ours" eval '[ $pki_ok = 0 ] && expired'

cat > "$T/droverd.json" <<JSON
{"state-dir": "$T/state", "run-dir": "$T/run", "runtime": false,
 "listen": "127.0.0.1:$port",
 "tls": {"cert": "$P/server.crt", "key": "$P/server.key", "client-ca": "$P/ca.crt"},
 "api": {"max-conns": 12, "max-body": 65536, "max-header": 8192,
         "header-timeout": 3, "body-timeout": 3, "idle-timeout": 6,
         "send-timeout": 3, "max-out": 16384}}
JSON
start() {
	"$bin/droverd" --config "$T/droverd.json" --log-level debug \
		>> "$T/droverd.log" 2>&1 &
	pid=$!
	wait_for 10 eval '[ "$(code admin $U/version)" = 200 ]'
}
check "droverd serves /version over mTLS on 127.0.0.1:$port" start

# ---- certificates ------------------------------------------------------
ns_json() { printf '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"%s"}}' "$1"; }
refused_cert() { # refused_cert NAME CURL-CERT-ARGS...: no answer, nothing stored
	local name=$1; shift
	! curl -sS --cacert "$P/ca.crt" "$@" -o /dev/null -w '%{http_code}' \
		-H 'Content-Type: application/json' -d "$(ns_json "$name")" \
		"$U/api/v1/namespaces" > "$T/r.out" 2>&1 &&
	! grep -qE '(^|[^0-9])[1-5][0-9][0-9]$' "$T/r.out" && ! exists "$name"
}
check "no client certificate: refused, nothing stored" refused_cert nocert
check "another CA's certificate: refused, nothing stored" refused_cert otherca \
	--cert "$T/other/users/admin.crt" --key "$T/other/users/admin.key"
check "an expired certificate: refused, nothing stored" refused_cert expired \
	--cert "$T/exp/users/admin.crt" --key "$T/exp/users/admin.key"
sclient() { # sclient ARGS...: openssl s_client with our admin certificate
	openssl s_client -connect "127.0.0.1:$port" -CAfile "$P/ca.crt" \
		-cert "$P/users/admin.crt" -key "$P/users/admin.key" "$@" \
		< /dev/null > "$T/s.out" 2>&1
}
tls12_refused() { # with TLS 1.2 the handshake itself fails (curl: 35)
	curl -sS --tls-max 1.2 --cacert "$P/ca.crt" "$@" "$U/version" > /dev/null 2>&1
	[ $? = 35 ]
}
check "TLS 1.2: the handshake fails without a certificate" tls12_refused
check "TLS 1.2: the handshake fails with another CA's" tls12_refused \
	--cert "$T/other/users/admin.crt" --key "$T/other/users/admin.key"

# ---- TLS versions, ALPN ----------------------------------------------
check "TLS 1.3 negotiated" eval 'sclient -tls1_3 && grep -q "Protocol *: TLSv1.3\|TLSv1.3" "$T/s.out"'
check "TLS 1.2 negotiated when the client caps it" eval 'sclient -tls1_2 && grep -q "Protocol *: TLSv1.2" "$T/s.out"'
check "TLS 1.1 refused" eval '! sclient -tls1_1 -cipher DEFAULT@SECLEVEL=0'
check "ALPN: h2,http/1.1 offered, http/1.1 selected" eval 'sclient -alpn h2,http/1.1 && grep -q "ALPN protocol: http/1.1" "$T/s.out"'
check "ALPN: h2 alone never selected" eval 'sclient -alpn h2; ! grep -q "ALPN protocol: h2" "$T/s.out"'
check "curl --http2 falls back to HTTP/1.1" eval '[ "$(c admin --http2 -o /dev/null -w "%{http_version}" $U/version)" = 1.1 ]'

# ---- keep-alive, identity ----------------------------------------------
keepalive() {
	c admin -w '%{http_code} %{num_connects}\n' -o /dev/null "$U/version" \
		-o /dev/null "$U/api" -o /dev/null "$U/nope" -o /dev/null \
		"$U/version" -o /dev/null "$U/apis" > "$T/ka.out" 2>&1 &&
	[ "$(tr '\n' ' ' < "$T/ka.out")" = "200 1 200 0 404 0 200 0 200 0 " ]
}
check "keep-alive: 5 requests (one a 404) on one connection" keepalive
printf 'GET /version HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /api HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' > "$T/pipe.req"
pipelined() {
	py raw "$T/pipe.req" > "$T/pipe.out"
	[ "$(grep -o 'HTTP/1.1 [0-9]*' "$T/pipe.out" | tr '\n' ' ')" = \
		"HTTP/1.1 200 HTTP/1.1 404 HTTP/1.1 200 " ] &&
	grep -q '"kind":"APIVersions"' "$T/pipe.out"
}
check "pipelined requests answered in order, then closed (Connection: close)" pipelined
printf 'HEAD /api HTTP/1.1\r\nHost: x\r\n\r\nGET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' > "$T/head.req"
head_req() { # HEAD: headers only (the next answer follows at once)
	py raw "$T/head.req" > "$T/head.out"
	grep -q "^HTTP/1.1 200" "$T/head.out" && ! grep -q APIVersions "$T/head.out" &&
	grep -q '"gitVersion"' "$T/head.out"
}
check "HEAD: the headers without the body, the connection goes on" head_req
long_query() { # a 5000-byte query fragment, then the one that matters
	local v
	v=$(head -c 5000 /dev/zero | tr '\0' q)
	c admin "$U/api/v1/namespaces?pad=$v&fieldSelector=metadata.name%3Ddefault" > "$T/lq.out" &&
	[ "$(jq -r '[.items[].metadata.name] | join(",")' "$T/lq.out")" = default ]
}
check "a query with a 5000-byte value reaches the handler whole" long_query
kubectl_keepalive() {
	kubectl --kubeconfig "$T/kc" --cache-dir "$T/kcache" get ns -v=8 > "$T/k.out" 2>&1 &&
	grep -q "^default " "$T/k.out"
}
check "kubectl get ns with the kubeconfig as is" kubectl_keepalive
check "identity: admin (CN admin, O team-x and system:masters) may list pods everywhere" \
	eval '[ "$(code admin $U/api/v1/pods)" = 200 ]'
check "identity: alice (CN, no O) reads her own namespace" \
	eval '[ "$(code alice $U/api/v1/namespaces/alice/pods)" = 200 ]'
check "identity: alice may not read default (403)" \
	eval '[ "$(code alice $U/api/v1/namespaces/default/pods)" = 403 ]'
check "identity: vera (O drover:viewers) reads, may not write (403)" \
	eval '[ "$(code vera $U/api/v1/namespaces/default/pods)" = 200 ] &&
	[ "$(code vera -H "Content-Type: application/json" -d "$(ns_json veraw)" $U/api/v1/namespaces)" = 403 ] &&
	! exists veraw'
check "identity: the transport logged CN admin with 2 groups" \
	grep -q "user admin, 2 groups" "$T/droverd.log"
check "a write with a good certificate is stored (201)" \
	eval '[ "$(code admin -H "Content-Type: application/json" -d "$(ns_json good)" $U/api/v1/namespaces)" = 201 ] && exists good'

# ---- sizes -------------------------------------------------------------
big_header() {
	local h
	h=$(head -c 10000 /dev/zero | tr '\0' a)
	[ "$(c admin -o "$T/bighdr.out" -w '%{http_code} %{content_type}' \
		-H "X-Big: $h" -H 'Content-Type: application/json' \
		-d "$(ns_json bighdr)" "$U/api/v1/namespaces" 2> /dev/null)" = \
		"413 application/json" ] &&
	[ "$(jq -r '.kind + " " + .reason + " " + (.code | tostring)' \
		"$T/bighdr.out")" = "Status RequestEntityTooLarge 413" ] &&
	! exists bighdr
}
check "413 for headers over max-header (8 KiB) as a Status, nothing stored" big_header
big_body() {
	python3 -c 'import json,sys; print(json.dumps({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"bigbody","annotations":{"a":"x"*70000}}}))' > "$T/big.json"
	[ "$(code admin -H 'Content-Type: application/json' --data-binary @"$T/big.json" \
		"$U/api/v1/namespaces")" = 413 ] && ! exists bigbody
}
check "413 for a body over max-body (64 KiB), nothing stored" big_body
# Only the headers, announcing 10 MB: the 413 comes at once (the body is
# not waited for), and the connection is closed.
printf 'POST /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n' > "$T/cl.req"
early_413() {
	local t0 t1
	t0=$(date +%s%N)
	py raw "$T/cl.req" > "$T/cl.out"
	t1=$(date +%s%N)
	head -1 "$T/cl.out" | grep -q "^HTTP/1.1 413" &&
	grep -qi "^Connection: close" "$T/cl.out" &&
	grep -q RequestEntityTooLarge "$T/cl.out" &&
	[ $(( (t1 - t0) / 1000000 )) -lt 4000 ]
}
check "413 from Content-Length alone, before any body byte, then close" early_413
printf 'POST /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n' > "$T/te.req"
check "411 for a chunked request body" eval 'py raw "$T/te.req" | head -1 | grep -q "^HTTP/1.1 411"'
printf 'POST /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nContent-Length: 12x\r\n\r\n' > "$T/bcl.req"
check "400 for a bad Content-Length" eval 'py raw "$T/bcl.req" | head -1 | grep -q "^HTTP/1.1 400"'
printf 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: x\r\n\r\n' > "$T/conn.req"
check "CONNECT is not tunnelled" eval '! py raw "$T/conn.req" | grep -q "^HTTP/1.1 200"'

# ---- slow clients, limits ----------------------------------------------
slowloris() {
	py slowloris 20 > "$T/slow.out" &
	local sp=$! n=0 fast=1
	# meanwhile others are served at once
	for _ in $(seq 10); do
		local t0 t1
		t0=$(date +%s%N)
		[ "$(code admin "$U/version")" = 200 ] || fast=0
		t1=$(date +%s%N)
		[ $(( (t1 - t0) / 1000000 )) -lt 2500 ] || fast=0
		n=$((n + 1))
		sleep 0.2
	done
	wait $sp
	echo "# slowloris: $(cat "$T/slow.out"); $n fast requests meanwhile"
	[ $fast = 1 ] && grep -qE "closed after [3-6]\." "$T/slow.out"
}
check "a slowloris client is closed at the header timeout (3 s); others served meanwhile" slowloris
limit() {
	py hold 12 2 > "$T/hold.out" &
	local hp=$!
	wait_for 10 grep -q opened "$T/hold.out"
	py rejected > "$T/rej.out"
	wait $hp
	echo "# limit: $(tr '\n' ' ' < "$T/hold.out"); 13th: $(cat "$T/rej.out")"
	grep -q "opened 12" "$T/hold.out" && grep -q "^rejected" "$T/rej.out" &&
	wait_for 5 eval '[ "$(code admin $U/version)" = 200 ]'
}
check "connection limit (12): the 13th is closed, service resumes after" limit
idle() {
	py hold 2 8 > "$T/idle.out"
	grep -q "open 0" "$T/idle.out"
}
check "idle connections closed after the handshake/header timeout" idle

# ---- streaming ---------------------------------------------------------
watch() {
	c admin -N -i --max-time 4 "$U/api/v1/namespaces?watch=true&resourceVersion=0" \
		> "$T/w.out" 2>&1 &
	local wp=$!
	sleep 1.5
	ctl apply -f - > /dev/null <<< "$(ns_json watched)"
	wait $wp
	grep -qi "^Transfer-Encoding: chunked" "$T/w.out" &&
	grep -q '"type":"ADDED".*"name":"default"' "$T/w.out" &&
	grep -q '"type":"ADDED".*"name":"watched"' "$T/w.out"
}
check "a watch is a chunked stream: ADDED for what exists, then new objects" watch
kubectl_watch() {
	timeout 5 kubectl --kubeconfig "$T/kc" --cache-dir "$T/kcache" get ns -w > "$T/kw.out" 2>&1 &
	local kp=$!
	sleep 2
	ctl apply -f - > /dev/null <<< "$(ns_json kwatched)"
	wait $kp
	grep -q "^kwatched " "$T/kw.out"
}
check "kubectl get -w sees a new namespace" kubectl_watch
noread() {
	py noread "/api/v1/namespaces?watch=true&resourceVersion=0" 15 > "$T/nr.out" &
	local np=$!
	sleep 1
	# more than the kernel's socket buffers take (~2 MB on loopback)
	local pad
	pad=$(head -c 30000 /dev/zero | tr '\0' p)
	for f in 1 2 3; do
		for i in $(seq 50); do
			printf -- '---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: nr%s-%s\n  annotations: {pad: "%s"}\n' \
				"$f" "$i" "$pad"
		done > "$T/many$f.yaml"
		ctl apply -f "$T/many$f.yaml" > /dev/null
	done
	wait $np
	echo "# a watch nobody reads: $(cat "$T/nr.out")"
	grep -q "closed after" "$T/nr.out" &&
	grep -q "closing: the client does not read" "$T/droverd.log"
}
check "a client that does not read its watch is dropped" noread
# A large answer to a slow reader: the socket fills in the middle of an
# answer again and again (TLS records retried as lws and mbedTLS require);
# one request after the other on one connection, each answer must come out
# whole, the same bytes as a fast read (~9 MB: the 150 padded namespaces
# above, with their last-applied annotations).
slowread() {
	c admin -o "$T/ns.fast" "$U/api/v1/namespaces" || return 1
	py slowread /api/v1/namespaces 3 > "$T/sr.out" || { cat "$T/sr.out"; return 1; }
	local size sum
	size=$(stat -c %s "$T/ns.fast") sum=$(md5sum < "$T/ns.fast" | cut -c1-32)
	echo "# slow reader: $(cat "$T/sr.out"); fast: $size $sum"
	[ "$size" -gt 8000000 ] &&
	grep -qx "3 answers, sizes $size $size $size, md5s $sum $sum $sum" "$T/sr.out"
}
check "a slow reader of 3 LISTs of 9 MB on one connection gets each whole, the same bytes as a fast read" slowread
# The same three pipelined: the 2nd and 3rd requests arrive while the 1st
# answer is still being sent (lws kept them; Drover's lws patch
# h1-pipelining.patch), answered in order after it.
slowread_piped() {
	py slowread /api/v1/namespaces 3 pipelined > "$T/srp.out" || { cat "$T/srp.out"; return 1; }
	echo "# pipelined slow reader: $(cat "$T/srp.out")"
	[ "$(cat "$T/srp.out")" = "$(cat "$T/sr.out")" ]
}
check "... and pipelined, all three sent at once: the same three answers, whole and in order" slowread_piped

# ---- WebSocket refusal -------------------------------------------------
ws_refused() {
	printf 'GET /apis/subresources.kubevirt.io/v1/namespaces/default/virtualmachineinstances/nope/console HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: plain.kubevirt.io\r\n\r\n' > "$T/ws.req"
	py raw "$T/ws.req" > "$T/ws.out"
	head -1 "$T/ws.out" | grep -q "^HTTP/1.1 404" &&
	grep -q '"reason":"NotFound"' "$T/ws.out" &&
	grep -qi "^Connection: close" "$T/ws.out"
}
check "a refused WebSocket upgrade is a plain 404 Status, then the connection closes" ws_refused

check "droverd still serves after all that" eval '[ "$(code admin $U/version)" = 200 ]'
stop() {
	kill -TERM "$pid"
	wait "$pid"
	local rc=$?
	pid=
	grep "mTLS API stops" "$T/droverd.log" | sed 's/.*apiserver_free: /# /'
	[ $rc = 0 ]
}
check "droverd stops cleanly (status 0, no leaks)" stop
exit $failed
