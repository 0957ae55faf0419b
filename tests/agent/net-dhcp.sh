#!/usr/bin/env bash
# tests/agent/net-dhcp.sh BUILD: the guest's DHCP server (net/dhcp_srv.c)
# on the real loop (BUILD/tests/dhcpd_test), in a "pod" network namespace
# made here with ip(8): bridge k6t-eth0 10.0.2.1/24 whose port is one end
# of a veth pair standing in for tap0; the other end sits in a "guest"
# namespace where busybox udhcpc (CirrOS's client) takes the lease. The
# server is started from the root namespace (it enters the pod's by fd).
# Checks every option udhcpc reports, that garbage is dropped and the
# server keeps serving. Needs root; TAP lines.
set -uo pipefail
B=${1:-build/asan}
root=$(cd "$(dirname "$0")/../.." && pwd)
case $B in /*) ;; *) B=$root/$B ;; esac
SRV=$B/tests/dhcpd_test
CLI=$B/tests/dhcpclient
W=$(mktemp -d /tmp/drover-dhcp-XXXXXX)
POD=drover-dhcp-pod-$$
GUEST=drover-dhcp-guest-$$
fails=0
srvpid=

cleanup() {
	[ -n "$srvpid" ] && kill "$srvpid" 2>/dev/null
	wait 2>/dev/null
	ip netns del "$POD" 2>/dev/null
	ip netns del "$GUEST" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
ok() { echo "ok - $1"; }
notok() { echo "not ok - $1"; fails=$((fails + 1)); }

if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
	echo "ok - net-dhcp # SKIP needs root and ip(8)"
	exit 0
fi
if ! busybox udhcpc --help >/dev/null 2>&1; then
	echo "ok - net-dhcp # SKIP busybox udhcpc missing"
	exit 0
fi
for f in "$SRV" "$CLI"; do
	[ -x "$f" ] || { echo "not ok - $f not built"; exit 1; }
done

# The pod and the guest, a veth pair as the tap.
set -e
ip netns add "$POD"
ip netns add "$GUEST"
ip link add vp$$ type veth peer name vg$$
ip link set vp$$ netns "$POD"
ip link set vg$$ netns "$GUEST"
ip -n "$POD" link add k6t-eth0 type bridge
ip -n "$POD" addr add 10.0.2.1/24 dev k6t-eth0
ip -n "$POD" link set vp$$ master k6t-eth0
ip -n "$POD" link set vp$$ up
ip -n "$POD" link set k6t-eth0 up
ip -n "$POD" link set lo up
ip -n "$GUEST" link set vg$$ address 02:00:00:aa:bb:cc
ip -n "$GUEST" link set vg$$ up
ip -n "$GUEST" link set lo up
set +e

cat > "$W/resolv.conf" <<'RC'
# the node's
nameserver 10.96.0.10
nameserver fd00::53
nameserver 192.168.122.1
search default.svc.cluster.local svc.cluster.local cluster.local
domain node.example
options ndots:5
RC
cat > "$W/script" <<SH
#!/bin/sh
[ "\$1" = bound ] || exit 0
for v in ip subnet router dns serverid lease domain hostname mtu search; do
	eval "echo \$v=\\\$\$v"
done > "$W/lease.\$\$"
mv "$W/lease.\$\$" "$W/lease"
SH
chmod +x "$W/script"

"$SRV" /run/netns/"$POD" k6t-eth0 "$W/resolv.conf" cirros-vmi.example.org 1400 \
	> "$W/srv.out" 2> "$W/srv.log" &
srvpid=$!
for _ in $(seq 50); do grep -q ready "$W/srv.out" 2>/dev/null && break; sleep 0.1; done
if grep -q ready "$W/srv.out"; then ok "server up in the pod's namespace"; else
	notok "server up"; sed 's/^/# /' "$W/srv.log"; exit 1; fi
if ! ip netns exec "$POD" ss -uln 2>/dev/null | grep -q ':67 ' ; then
	notok "port 67 bound in the pod's namespace"
else ok "port 67 bound in the pod's namespace"; fi
if ss -uln | grep -q '0.0.0.0:67 '; then notok "nothing bound on :67 in the root namespace"
else ok "nothing bound on :67 in the root namespace"; fi

# Garbage from the guest first: dropped, the server lives on.
ip netns exec "$GUEST" python3 - vg$$ <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, sys.argv[1].encode())
s.bind(("0.0.0.0", 68))
bad = [b"", b"\x01" * 10, b"\x01\x01\x06" + b"\0" * 233 + b"\x63\x82\x53\x63\x35\x05\x01",
       b"\x01\x01\x10" + b"\0" * 233 + b"\x63\x82\x53\x63\x35\x01\x01\xff",
       b"\x01\x01\x06" + b"\0" * 233 + b"\x00\x00\x00\x00\x35\x01\x01\xff"]
for b in bad:
    s.sendto(b, ("255.255.255.255", 67))
PY
sleep 0.5

ip netns exec "$GUEST" busybox udhcpc -i vg$$ -f -q -n -t 5 -T 1 \
	-s "$W/script" -O search -O mtu -O domain -O hostname \
	> "$W/udhcpc.log" 2>&1
rc=$?
if [ $rc = 0 ] && [ -f "$W/lease" ]; then ok "udhcpc got a lease"; else
	notok "udhcpc got a lease (rc $rc)"; sed 's/^/# /' "$W/udhcpc.log" "$W/srv.log"; fi
expect() {
	local want="$1=$2" got
	got=$(grep "^$1=" "$W/lease" 2>/dev/null)
	if [ "$got" = "$want" ]; then ok "lease: $want"; else notok "lease: $want (got '$got')"; fi
}
expect ip 10.0.2.2
expect subnet 255.255.255.0
expect router 10.0.2.1
expect serverid 10.0.2.1
expect lease $((999 * 86400))
expect dns "10.96.0.10 192.168.122.1"
expect domain node.example
expect hostname cirros-vmi
expect mtu 1400
expect search "default.svc.cluster.local svc.cluster.local cluster.local"

# Our own client: OFFER, ACK and NAK byte for byte.
python3 - > "$W/want" <<'PY'
def enc(names):
    out = b""
    for n in names:
        for l in n.split("."):
            out += bytes([len(l)]) + l.encode()
        out += b"\0"
    return out.hex()
common = ["54 0a000201", "51 %08x" % (999 * 86400), "1 ffffff00", "3 0a000201",
          "6 0a60000ac0a87a01", "15 " + b"node.example".hex(),
          "12 " + b"cirros-vmi".hex(), "26 %04x" % 1400,
          "119 " + enc(["default.svc.cluster.local", "svc.cluster.local", "cluster.local"])]
for what, t in (("offer", "02"), ("ack", "05")):
    print(f"{what} yiaddr 10.0.2.2 flags 8000 chaddr 02:00:00:aa:bb:cc")
    print(f"{what} opt 53 {t}")
    for c in common:
        print(f"{what} opt {c}")
print("nak yiaddr 0.0.0.0 flags 8000 chaddr 02:00:00:aa:bb:cc")
print("nak opt 53 06")
print("nak opt 54 0a000201")
PY
if ip netns exec "$GUEST" "$CLI" vg$$ > "$W/got" 2>&1 && diff "$W/want" "$W/got" > "$W/diff"; then
	ok "dhcpclient: OFFER, ACK, NAK byte for byte ($(wc -l < "$W/got") lines)"
else
	notok "dhcpclient: OFFER, ACK, NAK byte for byte"
	sed 's/^/# /' "$W/diff" "$W/got"
fi

kill "$srvpid"; wait "$srvpid"; srvpid=
read -r _ rcv _ drp _ rep < <(grep '^received' "$W/srv.out")
if [ "${drp:-0}" -ge 5 ] && [ "${rep:-0}" -ge 5 ]; then
	ok "server counted $rcv received, $drp dropped, $rep replied"
else
	notok "server counters (${rcv:-?} received, ${drp:-?} dropped, ${rep:-?} replied)"
	sed 's/^/# /' "$W/srv.log"
fi
if grep -q "dropped a" "$W/srv.log"; then ok "drops logged with a reason"; else notok "drops logged"; fi
exit $((fails > 0))
