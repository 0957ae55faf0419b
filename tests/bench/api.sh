#!/usr/bin/env bash
# tests/bench/api.sh: droverd's Kubernetes API over mutual TLS against
# nginx (Debian's, tests/bench/deps.list) serving the same bytes with
# mutual TLS, on this machine, in the same run, with the same client
# (tests/bench/apiload: mbedTLS, client certificate, TLS 1.3 with Go's
# cipher order, keep-alive), the two servers measured in alternating
# 1-second slices so that both see the same machine load.
#
#   GET of one object (a VirtualMachineInstanceReplicaSet) and LIST of 100,
#   at 1 and 16 concurrent clients: requests/s and p99 latency.
#   Targets: >= 0.5x nginx's requests/s; p99 <= 5 ms at 16 clients.
#   For information: GET /version (the transport with next to no handler
#   work) at 1 and 16 clients, and droverd's CPU time per request.
#   Full handshakes (connect, TLS 1.3 handshake with a client certificate,
#   one small GET, close) per second at 16 clients, against nginx (no
#   target).
#
# droverd is the dev build (-O2), runtime off, log level warn; nginx runs
# one worker (droverd serves from one thread), access log off, keep-alive
# requests unlimited; also reported: nginx with one worker per CPU.
# Environment: SECS (per measurement, default 5), DROVERD (build/droverd).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
SECS=${SECS:-5}
D=${DROVERD:-$BENCH_ROOT/build/droverd}
CTL=$BENCH_ROOT/build/droverctl
LOAD=$BENCH_OUT/apiload
bench_need "$D" "make"
bench_need "$CTL" "make"
bench_need "$LOAD" "make bench-bins"
command -v nginx > /dev/null || bench_cannot "nginx missing (make deps)"
lab=$BENCH_ROOT/../shared/lab/vmirs_lab05-cirros.yaml
bench_need "$lab" "the lab's VMIRS manifest"

T=$(mktemp -d /tmp/bench-api.XXXXXX)
chmod 755 "$T"
dpid= npid=
cleanup() {
	[ -n "$dpid" ] && kill "$dpid" 2> /dev/null && wait "$dpid" 2> /dev/null
	[ -n "$npid" ] && kill "$npid" 2> /dev/null && wait "$npid" 2> /dev/null
	rm -rf "$T"
}
trap cleanup EXIT
free_port() { echo $(( 20000 + RANDOM % 20000 )); }
P=$T/pki
"$CTL" certs init --dir "$P" > /dev/null &&
"$CTL" certs user bench --group system:masters --dir "$P" > /dev/null ||
	bench_cannot "droverctl certs"
chmod 755 "$P" && chmod 644 "$P"/*.crt
dport=$(free_port)
cat > "$T/droverd.json" <<JSON
{"state-dir": "$T/state", "run-dir": "$T/run", "runtime": false,
 "listen": "127.0.0.1:$dport", "log-level": "warn",
 "tls": {"cert": "$P/server.crt", "key": "$P/server.key", "client-ca": "$P/ca.crt"}}
JSON
"$D" --config "$T/droverd.json" > "$T/droverd.log" 2>&1 &
dpid=$!
for _ in $(seq 100); do
	[ -S "$T/run/droverd.sock" ] && "$CTL" --socket "$T/run/droverd.sock" get ns > /dev/null 2>&1 && break
	sleep 0.1
done
for i in $(seq 100); do
	echo ---
	sed -e "s/^  name: lab05-cirros-replicaset/  name: rs-$i\n  namespace: bench/" \
		-e 's/^  replicas: 2/  replicas: 0/' "$lab"
done > "$T/rs.yaml"
printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bench\n' > "$T/ns.yaml"
"$CTL" --socket "$T/run/droverd.sock" apply -f "$T/ns.yaml" > /dev/null &&
"$CTL" --socket "$T/run/droverd.sock" apply -f "$T/rs.yaml" > /dev/null ||
	bench_cannot "droverctl apply of 100 VMIRS"

GET=/apis/kubevirt.io/v1/namespaces/bench/virtualmachineinstancereplicasets/rs-1
LIST=/apis/kubevirt.io/v1/namespaces/bench/virtualmachineinstancereplicasets
SMALL=/version
cu() { curl -sS --cacert "$P/ca.crt" --cert "$P/users/bench.crt" \
	--key "$P/users/bench.key" -H 'Accept: application/json' "$@"; }
mkdir -p "$T/www"
cu -o "$T/www/get" "https://127.0.0.1:$dport$GET" &&
cu -o "$T/www/list" "https://127.0.0.1:$dport$LIST" &&
cu -o "$T/www/small" "https://127.0.0.1:$dport$SMALL" ||
	bench_cannot "droverd does not answer over mTLS (see $T/droverd.log)"
n=$(jq '.items | length' "$T/www/list")
[ "$n" = 100 ] || bench_cannot "the LIST has $n items, not 100"
chmod 644 "$T"/www/*

nginx_start() { # nginx_start WORKERS: nginx on a new port ($nport)
	nport=$(free_port)
	cat > "$T/nginx.conf" <<-EOF
	worker_processes $1;
	daemon off;
	pid $T/nginx.pid;
	error_log $T/nginx.err;
	events { worker_connections 1024; }
	http {
	    access_log off;
	    keepalive_requests 100000000;
	    keepalive_timeout 60s;
	    default_type application/json;
	    server {
	        listen 127.0.0.1:$nport ssl;
	        ssl_certificate $P/server.crt;
	        ssl_certificate_key $P/server.key;
	        ssl_client_certificate $P/ca.crt;
	        ssl_verify_client on;
	        ssl_protocols TLSv1.2 TLSv1.3;
	        ssl_session_tickets off;
	        location = $GET { alias $T/www/get; }
	        location = $LIST { alias $T/www/list; }
	        location = $SMALL { alias $T/www/small; }
	    }
	}
	EOF
	nginx -c "$T/nginx.conf" -p "$T" > "$T/nginx.out" 2>&1 &
	npid=$!
	for _ in $(seq 50); do
		cu -o /dev/null "https://127.0.0.1:$nport$SMALL" 2> /dev/null && return 0
		sleep 0.1
	done
	bench_cannot "nginx did not start: $(cat "$T/nginx.err" "$T/nginx.out" 2> /dev/null | tail -3)"
}
nginx_stop() { kill "$npid"; wait "$npid" 2> /dev/null; npid=; }
nginx_start 1
# same bytes?
cmp -s <(cu "https://127.0.0.1:$nport$LIST") "$T/www/list" ||
	bench_cannot "nginx does not serve the same LIST bytes"

# pair PATH CLIENTS [--handshake]: droverd and nginx in alternating
# 1-second slices (same machine load), SECS each:
# "drps dp99 bytes derr nrps np99 nerr dcpu" (dcpu: droverd's CPU time
# per request, us)
# (droverd-priv and its children: the API is served by droverd-api)
cputicks() {
	local p t=0
	for p in $dpid $(cat /proc/$dpid/task/*/children 2> /dev/null); do
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2> /dev/null || echo 0)))
	done
	echo $t
}
pair() {
	local out c0 c1
	c0=$(cputicks)
	out=$("$LOAD" --port "$dport,$nport" --ca "$P/ca.crt" \
		--cert "$P/users/bench.crt" --key "$P/users/bench.key" --path "$1" \
		--clients "$2" --seconds "$SECS" ${3:-}) || bench_cannot "apiload failed: $out"
	c1=$(cputicks)
	awk -v ticks=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" '
		{ for (i = 1; i < NF; i += 2) v[$i] = $(i + 1)
		r = r " " v["rps"] " " v["p99_ms"]
		if (NR == 1) { r = r " " v["bytes"]; n = v["requests"] }
		r = r " " v["errors"] }
		END { printf "%s %.0f\n", substr(r, 2), n ? ticks * 1e6 / hz / n : 0 }' <<< "$out"
}

printf '%-26s %9s %9s %7s | %9s %9s | %6s\n' "workload (bytes)" "droverd/s" "p99 ms" "cpu us" "nginx/s" "p99 ms" ratio
for w in get list; do
	path=$GET; [ $w = list ] && path=$LIST
	for c in 1 16; do
		read -r drps dp99 bytes derr nrps np99 nerr dcpu <<< "$(pair "$path" $c)"
		r=$(bench_calc "$drps / $nrps")
		printf '%-26s %9s %9s %7s | %9s %9s | %6s%s\n' "$(echo $w | tr a-z A-Z) $c client(s) ($bytes)" \
			"$drps" "$dp99" "$dcpu" "$nrps" "$np99" "$r" \
			"$([ "$derr$nerr" != 00 ] && echo "  errors $derr/$nerr")"
		bench_result "api $w c$c requests/s" "$drps" "nginx $nrps" "$r" ">= 0.5" \
			"$(bench_yesno "$r" '>=' 0.5)"
		if [ $c = 16 ]; then
			bench_result "api $w c$c p99 ms" "$dp99" "nginx $np99" \
				"$(bench_calc "$dp99 / $np99")" "<= 5 ms" "$(bench_yesno "$dp99" '<=' 5)"
		fi
	done
done
# The transport alone: /version (190 bytes, next to no handler work).
for c in 1 16; do
	read -r drps dp99 bytes _ nrps np99 _ dcpu <<< "$(pair "$SMALL" $c)"
	r=$(bench_calc "$drps / $nrps")
	printf '%-26s %9s %9s %7s | %9s %9s | %6s\n' "/version $c client(s) ($bytes)" \
		"$drps" "$dp99" "$dcpu" "$nrps" "$np99" "$r"
	bench_result "api /version c$c requests/s (transport)" "$drps" "nginx $nrps" "$r" - -
done
read -r dh dhp99 _ _ nh nhp99 _ dcpu <<< "$(pair "$SMALL" 16 --handshake)"
r=$(bench_calc "$dh / $nh")
printf '%-26s %9s %9s %7s | %9s %9s | %6s\n' "full handshakes 16 clients" "$dh" "$dhp99" "$dcpu" "$nh" "$nhp99" "$r"
bench_result "api full handshakes/s c16" "$dh" "nginx $nh" "$r" - -
nginx_stop

# For information: nginx with a worker per CPU.
nginx_start auto
printf 'nginx, one worker per CPU (%s):\n' "$(getconf _NPROCESSORS_ONLN)"
for w in get list; do
	path=$GET; [ $w = list ] && path=$LIST
	read -r drps _ _ _ nrps np99 _ _ <<< "$(pair "$path" 16)"
	printf '  %-24s %9s/s p99 %s ms (droverd %s/s, ratio %s)\n' "$(echo $w | tr a-z A-Z) 16 clients" \
		"$nrps" "$np99" "$drps" "$(bench_calc "$drps / $nrps")"
done
nginx_stop
printf 'load average during the run: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
exit 0
