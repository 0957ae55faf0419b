#!/usr/bin/env bash
# tests/agent/runtime-pull.sh BUILD (e.g. build/asan): the VMI runtime
# pulls a containerDisk image that is not in the store, as the kubelet
# does. A registry (Debian's docker-registry, TLS with a CA made here)
# serves an OCI image whose one layer holds /disk/disk.img, an ext2 disk
# booting the PVH test payload; droverd reaches it as quay.io through a
# mirror. Checks: the VMI is Pending (Pulling) and then Running and Ready;
# an image the registry does not have leaves its VMI Pending with
# ImagePullBackOff and the registry's error; deleting leaves nothing.
# Root, /dev/kvm, docker-registry, skopeo, openssl, mke2fs; else SKIP.
set -uo pipefail
build=${1:-build/asan}
root=$(cd "$(dirname "$0")/../.." && pwd)
case $build in /*) ;; *) build=$root/$build ;; esac
bin=$build/bin
payload=$build/tests/payloads/pvh.elf
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
failed=0
pid=
pids=()

. "$(dirname "$0")/lib/tap.sh" runtime-pull

for f in "$bin/droverd" "$bin/droverctl" "$bin/drover-vmm" "$payload"; do
	[ -e "$f" ] || { echo "not ok - runtime-pull: $f built"; exit 1; }
done
if [ "$(id -u)" != 0 ] || [ ! -w /dev/kvm ]; then
	echo "ok - runtime-pull # SKIP needs root and /dev/kvm"
	exit 0
fi
for t in docker-registry skopeo openssl mke2fs jq python3; do
	command -v $t > /dev/null || {
		echo "ok - runtime-pull # SKIP no $t (make deps)"; exit 0; }
done

T=$(mktemp -d /tmp/rtp.XXXXXX)
chmod 711 "$T"	# droverd-api (unprivileged) reaches its state and run dirs
mkdir -p "$T/bin"
cp "$bin/droverd" "$bin/droverctl" "$bin/drover-vmm" "$T/bin/"
bin=$T/bin
sock=$T/run/droverd.sock
ns=pull
ctl() { "$bin/droverctl" --socket "$sock" "$@"; }
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in $(pgrep -f "drover-vmm --config $T/"); do kill -9 "$p"; done
	wait 2> /dev/null
	if [ $failed -ne 0 ]; then
		echo "# droverd log (last 30 lines):"
		tail -n 30 "$T/droverd.log" | sed 's/^/# /'
	fi
	rm -rf "$T"
}
trap cleanup EXIT
cd "$T" || exit 1

# ---- a registry on 127.0.0.1 with TLS ----
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 \
	-subj "/CN=drover test CA" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
	-subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' > san.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
	-out server.crt -days 2 -extfile san.ext 2>/dev/null
mkdir -p certs && cp ca.crt certs/ca.crt
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > reg.yml <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $T/storage
http:
  addr: 127.0.0.1:$port
  tls:
    certificate: $T/server.crt
    key: $T/server.key
EOF
docker-registry serve reg.yml > reg.log 2>&1 &
pids+=($!)
up() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2> /dev/null; }
wait_for 10 up || { echo "not ok - runtime-pull: registry starts"; cat reg.log; exit 1; }

# ---- the image: an OCI layout with /disk/disk.img ----
mkdir -p tree/boot/grub layer/disk oci/blobs/sha256
cp "$payload" tree/boot/vmlinuz
printf 'default 0\ntimeout 0\ntitle payload\nkernel /boot/vmlinuz boottimer ctrlaltdel\n' \
	> tree/boot/grub/menu.lst
mke2fs -q -F -t ext2 -d tree layer/disk/disk.img 8M > /dev/null
tar -C layer --owner=107 --group=107 -cf - disk | gzip -n > layer.tgz
blob() { # FILE: store it, print "sha256:HEX SIZE"
	local h
	h=$(sha256sum "$1" | cut -d' ' -f1)
	cp "$1" "oci/blobs/sha256/$h"
	echo "sha256:$h $(stat -c %s "$1")"
}
read -r ld ls < <(blob layer.tgz)
diff=$(gzip -dc layer.tgz | sha256sum | cut -d' ' -f1)
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"config":{}}' \
	"$diff" > config.json
read -r cd cs < <(blob config.json)
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%s}]}' \
	"$cd" "$cs" "$ld" "$ls" > manifest.json
read -r md ms < <(blob manifest.json)
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s}]}' \
	"$md" "$ms" > oci/index.json
printf '{"imageLayoutVersion":"1.0.0"}' > oci/oci-layout
skopeo copy -q --dest-cert-dir "$T/certs" oci:oci \
	"docker://127.0.0.1:$port/kubevirt/pulled:v1" > skopeo.log 2>&1 ||
	{ echo "not ok - runtime-pull: skopeo push"; cat skopeo.log; exit 1; }

# ---- droverd, with quay.io mirrored to the registry ----
cat > droverd.json <<EOF
{"state-dir": "$T/state", "run-dir": "$T/run", "node-name": "edge1",
 "vmm": "$bin/drover-vmm", "cgroup-root": "", "poll-ms": 200,
 "images": {"ca": "$T/ca.crt", "mirrors": {"quay.io": "https://127.0.0.1:$port"}}}
EOF
"$bin/droverd" --config droverd.json --log-level info >> droverd.log 2>&1 &
pid=$!
wait_for 10 ctl get ns > /dev/null 2>&1 || { nok "droverd starts"; exit 1; }

vmi() { # NAME IMAGE
	cat <<EOF
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata:
  name: $1
spec:
  domain:
    devices:
      disks:
      - name: containerdisk
        disk:
          bus: virtio
    resources:
      requests:
        memory: 64Mi
  volumes:
  - name: containerdisk
    containerDisk:
      image: $2
EOF
}
get() { ctl get vmi "$1" -n $ns -o json; }
phase_ready() { # NAME PHASE READY-STATUS [READY-REASON]
	get "$1" | jq -e --arg p "$2" --arg s "$3" --arg r "${4:-}" '
		.status.phase == $p and ([.status.conditions[]? |
		select(.type == "Ready")][0] | .status == $s and
		($r == "" or .reason == $r))' > /dev/null
}
ready_msg() { get "$1" | jq -r '[.status.conditions[]? | select(.type == "Ready")][0].message'; }

vmi pulled quay.io/kubevirt/pulled:v1 > pulled.yaml
vmi absent quay.io/kubevirt/absent:v1 > absent.yaml
apply() { ctl apply -f "$1" -n $ns > /dev/null; }
check "a VMI whose image is not in the store is accepted" apply pulled.yaml
check "... it is pulled through the mirror, then the VMI runs and is Ready" \
	wait_for 60 phase_ready pulled Running True
check "the image is in the store now" \
	bash -c "'$bin/droverctl' --socket '$sock' image list | grep -q 'quay.io/kubevirt/pulled:v1'"
check "events: Pulling" \
	bash -c "'$bin/droverctl' --socket '$sock' get events -n $ns | grep -q 'Pulling image'"
check "an image the registry does not have: accepted" apply absent.yaml
check "... Pending, Ready=False ImagePullBackOff" \
	wait_for 30 phase_ready absent Pending False ImagePullBackOff
msg=$(ready_msg absent)
check "... the message names the image and the registry's answer" \
	bash -c "grep -q 'quay.io/kubevirt/absent:v1' <<< '$msg'"
echo "# $msg"
del() { ctl delete vmi pulled -n $ns > /dev/null &&
	ctl delete vmi absent -n $ns > /dev/null; }
check "delete both" del
gone() { [ "$(ctl get vmi -n $ns -o json | jq '.items | length')" = 0 ] &&
	[ -z "$(pgrep -f "drover-vmm --config $T/")" ]; }
check "nothing left: no VMI, no VMM" wait_for 30 gone
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
check "droverd stops cleanly (status 0, no leaks)" test "$rc" = 0
exit $failed
