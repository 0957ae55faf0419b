#!/usr/bin/env bash
# tests/agent/images-api.sh BUILD: droverctl image import|list|rm|pull
# through the local socket: BUILD/tests/images_apid serves the image ops
# (images_register_api on a real localapi, store and loop); the pull goes
# through its image.store op and runs in droverctl, against Debian's
# docker-registry on 127.0.0.1 (TLS, a CA made here). TAP lines.
set -uo pipefail
B=${1:-build/asan}
root=$(cd "$(dirname "$0")/../.." && pwd)
case $B in /*) ;; *) B=$root/$B ;; esac
CTL=$B/bin/droverctl
APID=$B/tests/images_apid
MK=$root/tests/agent/mkimage
W=$(mktemp -d /tmp/drover-imgapi-XXXXXX)
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
# check NAME CMD...: on failure, droverctl's stderr as TAP comments.
check() {
	local n=$1; shift
	if "$@"; then ok "$n"; else notok "$n"; sed 's/^/# /' err.txt 2>/dev/null; fi
}

for t in docker-registry skopeo openssl qemu-img python3; do
	command -v $t >/dev/null || { echo "not ok - $t is missing (make deps)"; exit 1; }
done
for f in "$CTL" "$APID"; do
	[ -x "$f" ] || { echo "not ok - $f not built"; exit 1; }
done
cd "$W" || exit 1
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
openssl req -x509 -newkey rsa:2048 -nodes -keyout srv.key -out srv.crt -days 2 \
	-subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
mkdir certs && cp srv.crt certs/ca.crt
cat >reg.yml <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $W/storage
http:
  addr: 127.0.0.1:$port
  tls:
    certificate: $W/srv.crt
    key: $W/srv.key
EOF
docker-registry serve reg.yml >reg.log 2>&1 &
pids+=($!)

"$MK" good.tar --name example.com/test/disk:v1 --docker good-docker.tar &&
	"$MK" two.tar --file disk/a.qcow2 --file disk/b.qcow2 ||
	{ echo "not ok - mkimage"; exit 1; }
qemu-img create -q -f qcow2 seed.qcow2 8M
cat >agent.json <<EOF
{"images": {"ca": "$W/srv.crt",
  "preloaded": {"quay.io/kubevirt/cirros-container-disk-demo": "$W/seed.qcow2"}}}
EOF
S=$W/d.sock
"$APID" "$W/state" "$S" agent.json >apid.out 2>apid.log &
pids+=($!)
for i in $(seq 100); do grep -q ready apid.out 2>/dev/null && break; sleep 0.1; done
ctl() { "$CTL" --socket "$S" image "$@" >out.txt 2>err.txt; }

ctl import good.tar
check "import an OCI archive through the socket" grep -q '^imported good.tar: sha256:' out.txt
ctl import good-docker.tar --name local/docker:1
check "import a Docker archive with --name" grep -q '^imported good-docker.tar: sha256:' out.txt
ctl list
check "list: both images and the pre-loaded name" \
	test "$(grep -c ' qcow2 ' out.txt)" = 3 -a -n "$(grep '^quay.io/kubevirt/cirros-container-disk-demo:latest *(pre-loaded)' out.txt)"
ctl import two.tar --name x/y
st=$?
check "a bad image: the server's error, exit 1" \
	test $st = 1 -a -n "$(grep 'Error from server (BadRequest): the image has 2 files under /disk/' err.txt)"
sed 's/^/# /' err.txt
check "nothing of it in the store" test -z "$(ls "$W/state/images/tmp")"
ctl rm example.com/test/disk:v1 local/docker:1
check "rm both names" test "$(grep -c '^removed' out.txt)" = 2
ctl rm example.com/test/disk:v1
check "rm of an absent name: NotFound" grep -q 'Error from server (NotFound): image example.com/test/disk:v1 is not in the store' err.txt
ctl list -o json
check "list -o json: only the pre-loaded name" \
	python3 -c 'import json,sys; l=json.load(open("out.txt")); sys.exit(not (len(l)==1 and l[0]["preloaded"] and l[0]["virtual_size"]==8388608))'
check "the store is empty" test -z "$(ls "$W/state/images/blobs/sha256")"

# pull: droverctl asks the agent where the store is (image.store), then
# pulls itself, with progress.
for i in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
skopeo copy -q --dest-cert-dir "$W/certs" oci-archive:good.tar \
	"docker://127.0.0.1:$port/test/good:v1" || { echo "not ok - skopeo push"; exit 1; }
ctl pull "127.0.0.1:$port/test/good:v1"
st=$?
check "pull through image.store, with progress lines" \
	test $st = 0 -a -n "$(grep -E '^sha256:[0-9a-f]{12} [0-9]+/[0-9]+ bytes \(100%\)$' out.txt)"
ctl list
check "the agent lists the pulled image" grep -q "^127.0.0.1:$port/test/good:v1 .* qcow2" out.txt

exit $((fails > 0))
