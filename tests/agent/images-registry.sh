#!/usr/bin/env bash
# tests/agent/images-registry.sh BUILD: droverctl image pull against real
# registries (Debian's docker-registry, the distribution project's server)
# on 127.0.0.1 with TLS (a self-signed CA made here with openssl):
#   A  anonymous;  B  basic auth (htpasswd -B);  C  token auth, tokens
#   from tests/agent/tokenserver.py (RS256 JWTs, x5c).
# The three share one storage directory; images are built by
# tests/agent/mkimage and pushed to A with skopeo. Checks: pull with
# progress lines, the same digest and disk as an import of the archive,
# a registry mirror for the seed's quay.io name, basic and bearer auth
# (refused without credentials, with a wrong password), a tampered blob
# (digest mismatch) and a truncated one, each leaving the store as it was.
# TAP lines on stdout.
set -uo pipefail
B=${1:-build/asan}
root=$(cd "$(dirname "$0")/../.." && pwd)
case $B in /*) ;; *) B=$root/$B ;; esac
CTL=$B/bin/droverctl
MK=$root/tests/agent/mkimage
TOKSRV=$root/tests/agent/tokenserver.py
W=$(mktemp -d /tmp/drover-registry-XXXXXX)
pids=()
fails=0

cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	chmod -R u+w "$W" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

ok() { echo "ok - $1"; }
notok() { echo "not ok - $1"; fails=$((fails + 1)); }
# check NAME CMD...: ok if CMD succeeds.
check() { local n=$1; shift; if "$@"; then ok "$n"; else notok "$n"; fi; }

for t in docker-registry skopeo htpasswd openssl qemu-img python3; do
	if ! command -v $t >/dev/null; then
		echo "not ok - $t is missing (make deps)"
		exit 1
	fi
done
[ -x "$CTL" ] || { echo "not ok - $CTL not built"; exit 1; }

freeport() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() { # PORT: up to 10 s
	local i
	for i in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# ---- certificates: a CA, the servers' certificate, the token signer ----
cd "$W" || exit 1
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 \
	-subj "/CN=drover test CA" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
	-subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >san.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
	-out server.crt -days 2 -extfile san.ext 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout token.key -out token.crt \
	-days 2 -subj "/CN=drover token signer" 2>/dev/null
mkdir -p certs && cp ca.crt certs/ca.crt
htpasswd -Bbn alice s3cret >htpasswd 2>/dev/null

PA=$(freeport) PB=$(freeport) PC=$(freeport) PT=$(freeport)
registry() { # NAME PORT AUTH-YAML
	cat >"reg-$1.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $W/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$2
  tls:
    certificate: $W/server.crt
    key: $W/server.key
$3
EOF
	docker-registry serve "reg-$1.yml" >"reg-$1.log" 2>&1 &
	pids+=($!)
}
registry A "$PA" ""
registry B "$PB" "auth:
  htpasswd:
    realm: drover-test
    path: $W/htpasswd"
registry C "$PC" "auth:
  token:
    realm: https://127.0.0.1:$PT/token
    service: drover-test
    issuer: drover-test-issuer
    rootcertbundle: $W/token.crt"
"$MK" cut.tar --fill 1 && mkdir cut && tar -C cut -xf cut.tar ||
	{ echo "not ok - mkimage"; exit 1; }
python3 "$TOKSRV" "$PT" server.crt server.key token.crt token.key alice s3cret \
	"$W/token.log" "$W/cut" 2>"$W/token.err" &
pids+=($!)
for p in $PA $PB $PC $PT; do
	wait_port "$p" || { echo "not ok - a server did not start on $p"; cat reg-*.log token.err; exit 1; }
done

# ---- images ----
"$MK" good.tar --fill 3 || { echo "not ok - mkimage"; exit 1; }
"$MK" bad.tar --fill 1 && "$MK" trunc.tar --fill 2 || { echo "not ok - mkimage"; exit 1; }
push() { # ARCHIVE REPO:TAG
	skopeo copy -q --dest-cert-dir "$W/certs" "oci-archive:$1" \
		"docker://127.0.0.1:$PA/$2"
}
push good.tar test/good:v1 && push good.tar kubevirt/cirros-container-disk-demo:latest &&
	push bad.tar test/bad:v1 && push trunc.tar test/trunc:v1 ||
	{ echo "not ok - skopeo push"; cat reg-A.log; exit 1; }

conf() { # FILE AUTH-JSON
	printf '{"images":{"ca":"%s","mirrors":{"quay.io":"https://127.0.0.1:%s"},"auth":%s}}\n' \
		"$W/ca.crt" "$PA" "$2" >"$1"
}
conf anon.json '{}'
conf alice.json "{\"127.0.0.1:$PB\":{\"username\":\"alice\",\"password\":\"s3cret\"},\"127.0.0.1:$PC\":{\"username\":\"alice\",\"password\":\"s3cret\"}}"
conf wrong.json "{\"127.0.0.1:$PB\":{\"username\":\"alice\",\"password\":\"nope\"},\"127.0.0.1:$PC\":{\"username\":\"alice\",\"password\":\"nope\"}}"
pull() { # STATE CONF REF: droverctl's output in out.txt, errors in err.txt
	"$CTL" image pull "$3" --state-dir "$W/$1" --config "$W/$2" >out.txt 2>err.txt
}
# note: droverctl's error line as a TAP comment
note() { grep '^error:' err.txt | sed 's/^/# /'; }
count() { find "$W/$1/images/$2" -type f 2>/dev/null | wc -l; }

# ---- anonymous pull, progress, same result as an import ----
if pull s1 anon.json "127.0.0.1:$PA/test/good:v1"; then
	ok "anonymous pull over TLS"
else
	notok "anonymous pull over TLS: $(tail -n1 err.txt)"
fi
check "progress lines per layer (bytes/total)" \
	grep -Eq '^sha256:[0-9a-f]{12} [0-9]+/[0-9]+ bytes \([0-9]+%\)$' out.txt
check "progress reaches 100% for the 3 MiB layer" \
	awk '/100%/ && $2 ~ /^[0-9]+\/[0-9]+$/ { split($2, a, "/"); if (a[1] == a[2] && a[2] > 3000000) f = 1 } END { exit !f }' out.txt
pulled=$(awk '/^127.0.0.1/ {print $2}' out.txt)
"$CTL" image import good.tar --name test/good:v1 --state-dir "$W/s2" >imp.txt 2>&1
imported=$(awk '/^imported/ {print $3}' imp.txt)
check "pulled digest equals the archive's ($pulled)" \
	test -n "$pulled" -a "$pulled" = "$imported"
disk1=$(ls "$W/s1/images/blobs/sha256" | sort | tr '\n' ' ')
disk2=$(ls "$W/s2/images/blobs/sha256" | sort | tr '\n' ' ')
check "pulled blobs (manifest, config, layer, disk) equal the imported ones" \
	test -n "$disk1" -a "$disk1" = "$disk2"
"$CTL" image list --state-dir "$W/s1" -o json >list.json 2>/dev/null
check "list: qcow2, 0444 disk, qemu-img check clean" \
	python3 - "$W/s1/images" <<'EOF'
import json, os, subprocess, sys
items = json.load(open("list.json"))
assert len(items) == 1 and items[0]["format"] == "qcow2", items
idx = json.load(open(os.path.join(sys.argv[1], "index", items[0]["digest"][7:] + ".json")))
blob = os.path.join(sys.argv[1], "blobs/sha256", idx["disk"]["blob"][7:])
assert os.stat(blob).st_mode & 0o777 == 0o444
subprocess.run(["qemu-img", "check", "-q", "-f", "qcow2", blob], check=True)
EOF

# ---- the seed's name through a mirror ----
if pull s1 anon.json quay.io/kubevirt/cirros-container-disk-demo &&
	"$CTL" image list --state-dir "$W/s1" | grep -q '^quay.io/kubevirt/cirros-container-disk-demo:latest .* qcow2'; then
	ok "quay.io/kubevirt/cirros-container-disk-demo through the configured mirror"
else
	notok "mirror pull: $(tail -n1 err.txt)"
fi

# ---- basic auth ----
pull s3 anon.json "127.0.0.1:$PB/test/good:v1"
note
check "basic auth: no credentials -> clear error" \
	grep -q "requires a username and password" err.txt
pull s3 wrong.json "127.0.0.1:$PB/test/good:v1"
note
check "basic auth: wrong password -> HTTP 401" grep -q "HTTP 401" err.txt
if pull s3 alice.json "127.0.0.1:$PB/test/good:v1"; then
	ok "basic auth: pull with credentials"
else
	notok "basic auth: pull with credentials: $(tail -n1 err.txt)"
fi

# ---- bearer tokens ----
pull s4 anon.json "127.0.0.1:$PC/test/good:v1"
note
check "bearer: token service refuses no credentials, clearly" \
	grep -q "token service https://127.0.0.1:$PT/token refused repository:test/good:pull" err.txt
if pull s4 alice.json "127.0.0.1:$PC/test/good:v1"; then
	ok "bearer: 401 + WWW-Authenticate Bearer -> token -> pull"
else
	notok "bearer: pull with a token: $(tail -n1 err.txt)"
fi
check "bearer: the token service saw the scope and the credentials" \
	grep -q "^/token scope=repository:test/good:pull auth=ok" token.log

# ---- a tampered blob, a truncated blob: errors, the store unchanged ----
layer_data() { # ARCHIVE: the registry's data file of its layer
	local m l
	m=$(tar -xOf "$1" index.json | python3 -c 'import json,sys; print(json.load(sys.stdin)["manifests"][0]["digest"][7:])')
	l=$(tar -xOf "$1" "blobs/sha256/$m" | python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"][7:])')
	echo "$W/storage/docker/registry/v2/blobs/sha256/${l:0:2}/$l/data"
}
before=$(count s1 blobs)
f=$(layer_data bad.tar)
printf 'X' | dd of="$f" bs=1 seek=1000 conv=notrunc status=none
pull s1 anon.json "127.0.0.1:$PA/test/bad:v1"
st=$?
note
check "tampered blob: pull fails with a digest mismatch" \
	test $st -ne 0 -a -n "$(grep 'digest mismatch' err.txt)"
check "tampered blob: nothing left in the store" \
	test "$(count s1 blobs)" = "$before" -a "$(count s1 tmp)" = 0 -a \
	-z "$(grep test/bad "$W/s1/images/refs.json")"
f=$(layer_data trunc.tar)
truncate -s 100000 "$f"
pull s1 anon.json "127.0.0.1:$PA/test/trunc:v1"
st=$?
note
check "truncated blob: pull fails as a truncated download" \
	test $st -ne 0 -a -n "$(grep -i 'truncated download' err.txt)"
check "truncated blob: nothing left in the store" \
	test "$(count s1 blobs)" = "$before" -a "$(count s1 tmp)" = 0

# The token server as a registry whose blobs stop half way through.
printf '{"images":{"ca":"%s","mirrors":{"cut.example":"https://127.0.0.1:%s"}}}\n' \
	"$W/ca.crt" "$PT" >cut.json
pull s1 cut.json cut.example/test/cut:v1
st=$?
note
check "a connection closed mid-blob: truncated download" \
	test $st -ne 0 -a -n "$(grep 'truncated download from 127.0.0.1: the connection closed [0-9]* bytes short' err.txt)"
check "a connection closed mid-blob: nothing left in the store" \
	test "$(count s1 blobs)" = "$before" -a "$(count s1 tmp)" = 0

# ---- rm ----
"$CTL" image rm "127.0.0.1:$PA/test/good:v1" quay.io/kubevirt/cirros-container-disk-demo \
	--state-dir "$W/s1" >/dev/null 2>&1
check "rm of both names empties the store" test "$(count s1 blobs)" = 0

exit $((fails > 0))
