#!/usr/bin/env bash
# tests/agent/net-pod.sh BUILD: net/podnet.c on the bare host (root).
# The guest: a netns "guest" holding eth0 10.0.2.2/24 (gw 10.0.2.1) whose
# peer is tap0 in the pod netns (a veth in place of drover-vmm's tap: the
# harness needs no userspace IP stack; production uses a real tap, which
# the cycle test makes). Masquerade out, DNAT in (listed port yes,
# unlisted no), adopt, teardown, 100 cycles leak nothing.
set -u
B=${1:-build/asan}
TOOL=$B/tests/net_tool
n=0; fail=0
ok() { n=$((n+1)); echo "ok - $1"; }
nok() { n=$((n+1)); fail=1; echo "not ok - $1"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else nok "$d"; fi; }
if [ "$(id -u)" != 0 ] || ! ip netns add drvt-probe 2>/dev/null; then
	echo "ok - net-pod # SKIP needs root and network namespaces"; exit 0
fi
ip netns del drvt-probe
T=$(mktemp -d); BR=drvt$$; BR=${BR:0:12}; CIDR=10.251.0.0/24
GNS=drvt-guest$$
net() { "$TOOL" "$T/ipam" $CIDR $BR "$T/ns" "$@"; }
cleanup() { ip netns del $GNS 2>/dev/null; ip link del $BR 2>/dev/null; ip link del ${BR}s 2>/dev/null
	for f in "$T"/ns/*; do [ -e "$f" ] && umount "$f" 2>/dev/null; done; rm -rf "$T"
	nft delete table ip drover_nat_$BR 2>/dev/null; nft delete table ip drover_nat_${BR}s 2>/dev/null; :; }
trap cleanup EXIT
# The kernel destroys a torn-down netns (and its links) asynchronously.
settled() { for _ in $(seq 50); do [ "$(counts)" = "$base" ] && return 0; sleep 0.1; done; return 1; }
# Addresses held: the IPAM log's last line per address says.
held() { awk '{ s[$1] = $2 } END { n = 0; for (a in s) n += s[a] == "held"; print n }' "$1" 2>/dev/null || echo 0; }
counts() { echo "$(ip -o link | wc -l) $(ls "$T/ns" 2>/dev/null | wc -l) $(held "$T/ipam") $(grep -c nsfs /proc/mounts)"; }
SRV='import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)
s.bind((sys.argv[1],int(sys.argv[2]))); s.listen(5); s.settimeout(4)
c,a=s.accept(); print(a[0]); c.sendall(b"hi"); c.close()'
CLI='import socket,sys
try:
  s=socket.create_connection((sys.argv[1],int(sys.argv[2])),2); print(s.recv(9).decode())
except Exception as e: print("fail", e)'

net adopt none >/dev/null 2>&1   # node set-up (bridge) before the baseline
base=$(counts)
ip netns add $GNS
out=$(net setup vmi-a /run/netns/$GNS tcp:7002) || nok "setup"
PODIP=${out%% *}; out=${out% tapfd=*}
check "setup gives a pod IP in the CIDR ($PODIP)" [ "${PODIP%.*}" = 10.251.0 ]
G="ip netns exec $GNS"
$G ip link set lo up; $G ip addr add 10.0.2.2/24 dev eth0; $G ip link set eth0 up
$G ip route add default via 10.0.2.1
check "pod netns has eth0 with the pod IP" bash -c "ip -n x >/dev/null 2>&1; nsenter --net=$T/ns/vmi-a ip -o addr show eth0 | grep -q ' $PODIP/24'"
check "k6t-eth0 is 10.0.2.1/24" bash -c "nsenter --net=$T/ns/vmi-a ip -o addr show k6t-eth0 | grep -q ' 10.0.2.1/24'"
check "tap0 in k6t-eth0" bash -c "nsenter --net=$T/ns/vmi-a ip -o link show tap0 | grep -q 'master k6t-eth0'"
python3 -c "$SRV" 10.251.0.1 7101 >"$T/s1" & sleep 0.3
$G python3 -c "$CLI" 10.251.0.1 7101 >"$T/c1"; wait
check "guest -> node server arrives from the pod IP (masquerade)" [ "$(cat "$T/s1")" = "$PODIP" ]
$G python3 -c "$SRV" 0.0.0.0 7002 >"$T/s2" & sleep 0.3
python3 -c "$CLI" "$PODIP" 7002 >"$T/c2"; wait
check "pod IP listed port 7002 reaches 10.0.2.2 (DNAT)" [ "$(cat "$T/c2")" = hi ]
$G python3 -c "$SRV" 0.0.0.0 7003 >"$T/s3" 2>/dev/null & sleep 0.3
python3 -c "$CLI" "$PODIP" 7003 >"$T/c3"; wait
check "unlisted port 7003 is not forwarded" grep -q fail "$T/c3"
check "adopt finds the running VMI's network (IP and eth0 MAC)" [ "$(net adopt vmi-a)" = "$out" ]
check "adopt of an unknown VMI fails" bash -c "! '$TOOL' '$T/ipam' $CIDR $BR '$T/ns' adopt vmi-zz 2>/dev/null"
check "setup twice is refused" bash -c "! '$TOOL' '$T/ipam' $CIDR $BR '$T/ns' setup vmi-a /run/netns/$GNS 2>/dev/null"
check "teardown" net teardown vmi-a
ip netns del $GNS
settled; echo "# links netns-files held-IPs nsfs-mounts: before $base after $(counts)"
check "nothing left after teardown" [ "$(counts)" = "$base" ]
# A failure half-way rolls back: a guest netns that does not exist fails open;
# an invalid id fails early; a bad netns fd (a regular file) fails in the pod.
: >"$T/notns"
check "setup with a bad guest netns fails" bash -c "! '$TOOL' '$T/ipam' $CIDR $BR '$T/ns' setup vmi-b '$T/notns' 2>/dev/null"
check "and rolls back everything" settled
net setup stale-1 - >/dev/null; net setup stale-2 - >/dev/null
check "prune keeps the listed and removes the others" [ "$(net prune stale-2)" = 1 ]
check "adopt after prune: the kept one" bash -c "'$TOOL' '$T/ipam' $CIDR $BR '$T/ns' adopt stale-2 >/dev/null && ! '$TOOL' '$T/ipam' $CIDR $BR '$T/ns' adopt stale-1 2>/dev/null"
check "prune of all" [ "$(net prune)" = 1 ]
check "nothing left after prune" settled
# The warm pool (NET_POOL): entries made ahead by the filler process and
# handed over; ports listed: the nat table replaced; a file in the way of
# the VMI's netns fails the hand-over, which rolls back; the pool is gone
# when the process ends.
out=$(NET_POOL=2 net setup vmi-p - tcp:7004) || nok "setup from the pool"
PODIP=${out%% *}
nat=$(nsenter --net="$T/ns/vmi-p" nft list table ip nat 2>&1)
check "pool: vmi-p has its address ($PODIP) on eth0" bash -c "nsenter --net=$T/ns/vmi-p ip -o addr show eth0 | grep -q ' $PODIP/24'"
# (the default rules DNAT twice, PREINBOUND and output; the port's rules
# twice too; both sets: 4)
check "pool: the nat table replaced, port 7004 only" bash -c '[[ $1 == *"tcp dport 7004"*"dnat to 10.0.2.2"* && $(grep -c "dnat to 10.0.2.2" <<< "$1") = 2 ]]' _ "$nat"
check "pool: no entry left after the process" bash -c "! ls -a '$T/ns' | grep -q '^\.pool-' && ! grep -q ' $T/ns/\.pool-' /proc/mounts"
check "pool: teardown" net teardown vmi-p
check "pool: nothing left" settled
: > "$T/ns/vmi-q"
check "pool: a file in the way of the netns fails the hand-over" bash -c "NET_POOL=1 '$TOOL' '$T/ipam' $CIDR $BR '$T/ns' setup vmi-q - 2>&1 | grep -q 'podnet: netns vmi-q: File exists'"
rm -f "$T/ns/vmi-q"
check "pool: and rolls back (no address held, no netns)" settled
# The pool's addresses give way: a /29 (5 addresses) serves 5 VMIs with a
# pool of 2, the 6th gets ENOSPC (own IPAM file and bridge: a small CIDR).
check "pool: a /29 with a pool of 2 serves 5 VMIs" bash -c "NET_POOL=2 '$TOOL' '$T/ipam29' 10.250.0.0/29 ${BR}s '$T/ns' batch 5 - > /dev/null"
check "pool: ... and the 6th finds no address" bash -c "NET_POOL=2 '$TOOL' '$T/ipam29' 10.250.0.0/29 ${BR}s '$T/ns' batch 6 - 2>&1 | grep -q 'no pod IP: No space left'"
ip link del ${BR}s 2> /dev/null; nft delete table ip drover_nat_${BR}s 2> /dev/null
check "pool: ... nothing left" settled
out=$(NET_POOL=2 net cycle 20 -) || nok "20 cycles with a pool"
echo "# 20 cycles with a warm pool of 2: $out"
check "pool: 20 cycles, set-ups served from the pool (${out#*pooled })" bash -c '[[ $1 == *" pooled "[1-9]* ]]' _ "$out"
check "pool: 20 cycles leak nothing" settled
out=$(net cycle 100 -) || nok "100 cycles (real tap)"
echo "# 100 cycles with a tap: $out"
check "100 create/delete cycles leak nothing" settled
check "no nat table left in any netns" [ "$(ip netns list | grep -c drvt)" = 0 ]
echo "1..$n"
exit $fail
